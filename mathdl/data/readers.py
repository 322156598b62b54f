"""Readers for image datasets the user has already downloaded (mathdl never downloads).

* MNIST / Fashion-MNIST: the four IDX files ``train-images-idx3-ubyte``,
  ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, raw or
  with ``.gz``.  IDX layout: two zero bytes, a type code (0x08 = unsigned byte), the number of
  dimensions d, then d big-endian uint32 sizes, then the data in C order.
* CIFAR-10 (python version): ``data_batch_1`` ... ``data_batch_5`` and ``test_batch``, pickles
  holding ``b"data"`` (N, 3072) uint8 rows (R, G, B planes of 32x32) and ``b"labels"``.
  They are read with a restricted unpickler that admits only what those batches hold (dicts,
  lists, bytes, strings, numbers and NumPy arrays with their dtypes); any other global a file
  names (``os.system``, ``builtins.eval``, ...) is refused with ``pickle.UnpicklingError`` before
  it can run.

Images become float32 in [0, 1] of shape (N, 1, 28, 28) or (N, 3, 32, 32) (NCHW), labels int64.
A missing file raises ``FileNotFoundError`` naming the file and the directory searched.
"""

from __future__ import annotations

import gzip
import os
import pickle

import numpy as np

from .dataset import TensorDataset
from .registry import DatasetSpec, register_dataset

__all__ = ["read_idx", "read_mnist", "read_cifar10", "load_mnist", "load_fashion_mnist", "load_cifar10",
           "MNIST_FILES", "CIFAR10_FILES", "default_data_dir"]

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
CIFAR10_FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def default_data_dir():
    """``$MATHDL_DATA`` if set, else ``./data``."""
    return os.environ.get("MATHDL_DATA", "data")


def _find(directory, name):
    """The path of ``name`` or ``name.gz`` inside ``directory`` (FileNotFoundError naming both)."""
    for candidate in (name, name + ".gz"):
        path = os.path.join(directory, candidate)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(
        f"missing file {name!r} (or {name + '.gz'!r}) in directory {os.path.abspath(directory)!r}; "
        "mathdl does not download data: put the file there or name another directory"
    )


def read_idx(path):
    """Read one IDX file (raw or gzip) into a NumPy array with the dimensions its header states."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"read_idx: {path!r} is not an IDX file (bad magic number {raw[:4].hex()!r})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"read_idx: {path!r} is truncated inside its header ({len(raw)} bytes)")
    shape = tuple(int(s) for s in np.frombuffer(raw, ">u4", ndim, 4))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"read_idx: {path!r} holds {len(raw) - header} data bytes but its header says shape {shape} "
            f"of {dtype} ({expected} bytes): the file is truncated or corrupt"
        )
    return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def read_mnist(directory):
    """((train_x, train_y), (test_x, test_y)) from MNIST-format IDX files in ``directory``."""
    arrays = {key: read_idx(_find(directory, name)) for key, name in MNIST_FILES.items()}
    out = []
    for part in ("train", "test"):
        x, y = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise ValueError(f"read_mnist: {part} images of shape {x.shape} do not match labels of shape {y.shape}")
        out.append(((x.astype(np.float32) / 255.0)[:, None], y.astype(np.int64)))
    return tuple(out)


# The globals a pickled NumPy array needs (NumPy 1.x and 2.x module names); nothing else is admitted.
_CIFAR_GLOBALS = {
    (mod, name)
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray")
    for name in ("_reconstruct", "scalar")
} | {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.numeric", "_frombuffer"),
     ("numpy._core.numeric", "_frombuffer")}


class _CifarUnpickler(pickle.Unpickler):
    """An unpickler for CIFAR-10 batches: builds dicts, lists, bytes, strings, numbers and NumPy
    arrays, and refuses every other global (so a crafted file cannot run code)."""

    def find_class(self, module, name):
        if (module, name) in _CIFAR_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: a CIFAR-10 batch holds only dicts, lists, "
                                     "bytes, strings, numbers and NumPy arrays")


def load_cifar_pickle(f):
    """Unpickle a CIFAR-10 batch from the binary file ``f`` with :class:`_CifarUnpickler`."""
    return _CifarUnpickler(f, encoding="bytes").load()


def _cifar_dir(directory):
    sub = os.path.join(directory, "cifar-10-batches-py")
    if not os.path.isfile(os.path.join(directory, "test_batch")) and os.path.isdir(sub):
        return sub
    return directory


def _read_cifar_batch(path):
    try:
        with open(path, "rb") as f:
            batch = load_cifar_pickle(f)
    except pickle.UnpicklingError as e:
        raise ValueError(f"read_cifar10: {path!r} is not a CIFAR-10 batch: {e}") from None
    except Exception as e:
        raise ValueError(f"read_cifar10: cannot read CIFAR-10 batch {path!r}: {e}") from None
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise ValueError(f"read_cifar10: {path!r} is not a CIFAR-10 batch (expected a dict with b'data' and "
                         "b'labels')")
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    labels = np.asarray(batch[b"labels"], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3072 or len(data) != len(labels):
        raise ValueError(f"read_cifar10: {path!r} has data {data.shape} and {len(labels)} labels; expected (N, 3072)")
    return data.reshape(-1, 3, 32, 32), labels


def read_cifar10(directory):
    """((train_x, train_y), (test_x, test_y)) from the CIFAR-10 python batches in ``directory``."""
    directory = _cifar_dir(directory)
    parts = [_read_cifar_batch(_find(directory, name)) for name in CIFAR10_FILES]
    xs, ys = zip(*parts[:5])
    train = (np.concatenate(xs).astype(np.float32) / 255.0, np.concatenate(ys))
    test = (parts[5][0].astype(np.float32) / 255.0, parts[5][1])
    return train, test


def _image_spec(train, test, name, classes, normalize):
    (xtr, ytr), (xte, yte) = train, test
    mean = std = None
    if normalize:
        mean = xtr.mean(axis=(0, 2, 3), keepdims=True, dtype=np.float64).astype(np.float32)
        std = xtr.std(axis=(0, 2, 3), keepdims=True, dtype=np.float64).astype(np.float32)
        xtr = (xtr - mean) / std
        xte = (xte - mean) / std
    extra = {"name": name, "class_names": classes,
             "mean": None if mean is None else mean.ravel().tolist(),
             "std": None if std is None else std.ravel().tolist()}
    return DatasetSpec(TensorDataset(xtr, ytr), TensorDataset(xte, yte), xtr.shape[1:], len(classes),
                       "classification", extra)


@register_dataset("mnist")
def load_mnist(seed=0, root=None, normalize=True):
    """MNIST handwritten digits from IDX files in ``root`` (default ``$MATHDL_DATA`` or ./data)."""
    train, test = read_mnist(root or default_data_dir())
    return _image_spec(train, test, "mnist", [str(i) for i in range(10)], normalize)


@register_dataset("fashion_mnist")
def load_fashion_mnist(seed=0, root=None, normalize=True):
    """Fashion-MNIST from IDX files in ``root`` (default ``$MATHDL_DATA`` or ./data)."""
    train, test = read_mnist(root or default_data_dir())
    return _image_spec(train, test, "fashion_mnist", FASHION_CLASSES, normalize)


@register_dataset("cifar10")
def load_cifar10(seed=0, root=None, normalize=True):
    """CIFAR-10 python batches in ``root`` or ``root/cifar-10-batches-py`` (default ``$MATHDL_DATA`` or ./data)."""
    train, test = read_cifar10(root or default_data_dir())
    return _image_spec(train, test, "cifar10", CIFAR10_CLASSES, normalize)
