"""MNIST IDX and CIFAR-10 readers on small files written here."""

import gzip
import os
import pickle
import struct

import numpy as np
import pytest

from mathdl.data import load_dataset
from mathdl.data.readers import read_cifar10, read_idx, read_mnist


def _idx_bytes(arr):
    code = {np.uint8: 0x08, np.int32: 0x0C}[arr.dtype.type]
    header = struct.pack(">BBBB", 0, 0, code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def _write_mnist(d, gz, n_train=5, n_test=3):
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test).astype(np.uint8),
    }
    for name, arr in arrays.items():
        data = _idx_bytes(arr)
        if gz:
            with gzip.open(os.path.join(d, name + ".gz"), "wb") as f:
                f.write(data)
        else:
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
    return arrays


@pytest.mark.parametrize("gz", [False, True])
def test_read_mnist(tmp_path, gz):
    arrays = _write_mnist(str(tmp_path), gz)
    (xtr, ytr), (xte, yte) = read_mnist(str(tmp_path))
    assert xtr.shape == (5, 1, 28, 28) and xtr.dtype == np.float32 and ytr.dtype == np.int64
    np.testing.assert_array_equal(xtr[:, 0] * 255, arrays["train-images-idx3-ubyte"].astype(np.float32))
    np.testing.assert_array_equal(yte, arrays["t10k-labels-idx1-ubyte"])
    spec = load_dataset("mnist", root=str(tmp_path))
    assert spec.input_shape == (1, 28, 28) and len(spec.train) == 5 and len(spec.test) == 3
    assert abs(spec.train.arrays[0].mean()) < 1e-5


def test_read_idx_other_dtype(tmp_path):
    arr = np.arange(-6, 6, dtype=np.int32).reshape(3, 4)
    p = tmp_path / "x.idx"
    p.write_bytes(_idx_bytes(arr))
    np.testing.assert_array_equal(read_idx(str(p)), arr)


def test_missing_mnist_file_named(tmp_path):
    _write_mnist(str(tmp_path), False)
    os.remove(tmp_path / "t10k-labels-idx1-ubyte")
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        read_mnist(str(tmp_path))


def test_bad_idx_files(tmp_path):
    p = tmp_path / "bad"
    p.write_bytes(b"\x01\x02\x03\x04rest")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(str(p))
    p.write_bytes(_idx_bytes(np.zeros((4, 4), np.uint8))[:-3])
    with pytest.raises(ValueError, match="truncated"):
        read_idx(str(p))


def _write_cifar(d, n=4):
    rng = np.random.default_rng(1)
    out = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, n).tolist()
        with open(os.path.join(d, name), "wb") as f:
            pickle.dump({b"data": data, b"labels": labels}, f)
        out[name] = (data, labels)
    return out


def test_read_cifar10(tmp_path):
    sub = tmp_path / "cifar-10-batches-py"
    sub.mkdir()
    written = _write_cifar(str(sub))
    (xtr, ytr), (xte, yte) = read_cifar10(str(tmp_path))  # the parent directory works too
    assert xtr.shape == (20, 3, 32, 32) and xte.shape == (4, 3, 32, 32)
    data, labels = written["data_batch_2"]
    np.testing.assert_array_equal(xtr[4:8].reshape(4, -1) * 255, data.astype(np.float32))
    np.testing.assert_array_equal(ytr[4:8], labels)
    # red plane first (CHW): pixel (0, 0) of channel 1 is column 1024 of the row
    assert xtr[0, 1, 0, 0] * 255 == written["data_batch_1"][0][0, 1024]
    spec = load_dataset("cifar10", root=str(sub), normalize=False)
    assert spec.input_shape == (3, 32, 32) and spec.extra["class_names"][0] == "airplane"


def test_missing_cifar_file_named(tmp_path):
    _write_cifar(str(tmp_path))
    os.remove(tmp_path / "data_batch_3")
    with pytest.raises(FileNotFoundError, match="data_batch_3"):
        read_cifar10(str(tmp_path))


class _RunsCode:
    """Unpickling this calls os.system (a crafted 'CIFAR batch')."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("payload", ["dict", "top"])
def test_cifar_reader_refuses_a_file_that_runs_code(tmp_path, payload):
    _write_cifar(str(tmp_path))
    marker = tmp_path / "pwned"
    evil = _RunsCode(str(marker))
    obj = {b"data": evil, b"labels": [0]} if payload == "dict" else evil
    with open(tmp_path / "data_batch_3", "wb") as f:
        pickle.dump(obj, f)
    with pytest.raises(ValueError, match=r"data_batch_3.*refusing to load (posix|os|nt)\.system"):
        read_cifar10(str(tmp_path))
    assert not marker.exists()  # the command never ran


def test_cifar_reader_admits_protocol_5_arrays(tmp_path):
    _write_cifar(str(tmp_path))
    data = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072)
    with open(tmp_path / "test_batch", "wb") as f:
        pickle.dump({b"data": data, b"labels": [1, 2], b"batch_label": "t", b"filenames": [b"a", b"b"]}, f,
                    protocol=5)
    _, (xte, yte) = read_cifar10(str(tmp_path))
    assert xte.shape == (2, 3, 32, 32) and yte.tolist() == [1, 2]
