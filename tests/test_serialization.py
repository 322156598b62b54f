"""mathdl.save / mathdl.load: bit-identical round trips, atomic writes, clear errors."""

import io
import os

import ml_dtypes
import numpy as np
import pytest

import mathdl
from mathdl import nn, optim
from mathdl.serialization import CheckpointError


def _model():
    mathdl.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))


def _train_steps(model, opt, steps, seed=1):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x = mathdl.tensor(rng.standard_normal((16, 5)).astype(np.float32))
        y = mathdl.tensor(rng.integers(0, 3, 16))
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()


def _assert_bits_equal(a, b):
    a = a.array if isinstance(a, mathdl.Tensor) else a
    b = b.array if isinstance(b, mathdl.Tensor) else b
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes()


def test_model_and_optimizer_round_trip_bit_identical(tmp_path):
    model = _model()
    opt = optim.Adam(model.parameters(), lr=1e-2)
    _train_steps(model, opt, 3)
    path = tmp_path / "ck.safetensors"
    mathdl.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}, path)
    state = mathdl.load(path)
    assert state["epoch"] == 3
    for k, v in model.state_dict().items():
        _assert_bits_equal(v, state["model"][k])
    for idx, s in opt.state_dict()["state"].items():
        for name, v in s.items():
            if isinstance(v, (mathdl.Tensor, np.ndarray)):
                _assert_bits_equal(v, state["optimizer"]["state"][idx][name])
            else:
                assert v == state["optimizer"]["state"][idx][name]
    # a fresh model + optimizer loaded from the file continues exactly like the original
    model2 = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))
    opt2 = optim.Adam(model2.parameters(), lr=1e-2)
    model2.load_state_dict(state["model"])
    opt2.load_state_dict(state["optimizer"])
    _train_steps(model, opt, 2, seed=9)
    _train_steps(model2, opt2, 2, seed=9)
    for (_, a), (_, b) in zip(model.state_dict().items(), model2.state_dict().items()):
        _assert_bits_equal(a, b)


def test_structures_and_dtypes_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    obj = {
        "f32": rng.standard_normal((3, 4)).astype(np.float32),
        "f64_transposed": rng.standard_normal((3, 2)).T,  # not C-contiguous
        "f16": np.array([1.5, -2.25], np.float16),
        "bf16": np.array([1.0, 3.0], ml_dtypes.bfloat16),
        "i64": np.arange(5), "u8": np.arange(3, dtype=np.uint8), "bool": np.array([True, False]),
        "scalar0d": np.array(2.5), "empty": np.zeros((0, 3), np.float32), "npscalar": np.float32(0.1),
        "tensor": mathdl.randn(2, 2), "grad_tensor": mathdl.ones(2, requires_grad=True),
        "int_keys": {0: {"step": 4}, 1: [1, 2]}, "tuple": (1, "a", None, True), "nested": [[1.5, {"x": "y"}]],
        "nan": float("nan"), "inf": float("-inf"), "big_int": 2 ** 100,
        "rng": np.random.default_rng(3).bit_generator.state,
        "__mathdl__": "a key that looks like the marker",
    }
    path = tmp_path / "x.safetensors"
    mathdl.save(obj, path)
    back = mathdl.load(path)
    assert set(back) == set(obj)
    for k in ("f32", "f64_transposed", "f16", "bf16", "i64", "u8", "bool", "scalar0d", "empty"):
        assert isinstance(back[k], np.ndarray)
        _assert_bits_equal(np.ascontiguousarray(obj[k]) if obj[k].ndim else obj[k], back[k])
    assert back["npscalar"] == obj["npscalar"] and back["npscalar"].dtype == np.float32
    assert isinstance(back["tensor"], mathdl.Tensor)
    _assert_bits_equal(obj["tensor"], back["tensor"])
    assert back["grad_tensor"].requires_grad and not back["tensor"].requires_grad
    assert back["int_keys"] == {0: {"step": 4}, 1: [1, 2]}
    assert back["tuple"] == (1, "a", None, True) and back["nested"] == [[1.5, {"x": "y"}]]
    assert np.isnan(back["nan"]) and back["inf"] == float("-inf") and back["big_int"] == 2 ** 100
    assert back["rng"] == obj["rng"]
    assert back["__mathdl__"] == obj["__mathdl__"]
    assert back["f32"].flags.writeable


def test_file_objects():
    buf = io.BytesIO()
    mathdl.save({"a": np.arange(3)}, buf)
    buf.seek(0)
    np.testing.assert_array_equal(mathdl.load(buf)["a"], np.arange(3))


def test_atomic_write_keeps_old_file_on_crash(tmp_path, monkeypatch):
    path = tmp_path / "ck.safetensors"
    mathdl.save({"v": np.ones(3)}, path)
    before = path.read_bytes()

    def boom(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        mathdl.save({"v": np.zeros(1000)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ck.safetensors"]  # no temporary file left behind
    np.testing.assert_array_equal(mathdl.load(path)["v"], np.ones(3))


def test_unsupported_object_names_its_place(tmp_path):
    with pytest.raises(TypeError, match="object of type set at 'model/x'"):
        mathdl.save({"model": {"x": {1, 2}}}, tmp_path / "a")
    with pytest.raises(TypeError, match="dtype complex128"):
        mathdl.save({"c": np.zeros(2, complex)}, tmp_path / "b")


@pytest.fixture
def good_file(tmp_path):
    model = _model()
    path = tmp_path / "good.safetensors"
    mathdl.save({"model": model.state_dict(), "epoch": 1}, path)
    return path


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint file at .*nothing.safetensors"):
        mathdl.load(tmp_path / "nothing.safetensors")


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[: len(b) // 2], "truncated"),
    (lambda b: b[:-1], "truncated"),
    (lambda b: b[:5], "empty or truncated"),
    (lambda b: b"", "empty or truncated"),
    (lambda b: b"this is not a checkpoint at all, just text", "truncated or not a checkpoint"),
    (lambda b: b[:-4] + bytes(x ^ 0xFF for x in b[-4:]), "fails its CRC-32 check"),
    (lambda b: b[:8] + b"[" + b[9:], "corrupt"),
])
def test_corrupt_files_raise_clear_errors(good_file, damage, message):
    good_file.write_bytes(damage(good_file.read_bytes()))
    with pytest.raises(CheckpointError, match=message) as info:
        mathdl.load(good_file)
    assert "good.safetensors" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_plain_safetensors_file_is_not_a_checkpoint(tmp_path):
    from safetensors.numpy import save_file

    path = str(tmp_path / "plain.safetensors")
    save_file({"w": np.zeros(2, np.float32)}, path)
    with pytest.raises(CheckpointError, match="not a mathdl checkpoint"):
        mathdl.load(path)


def test_mismatched_checkpoint_into_model(good_file):
    state = mathdl.load(good_file)
    other = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3))
    with pytest.raises(RuntimeError, match=r"0.weight: checkpoint shape \(8, 5\), model shape \(4, 5\)"):
        other.load_state_dict(state["model"])
    del state["model"]["2.bias"]
    with pytest.raises(RuntimeError, match="Missing key.*2.bias"):
        _model().load_state_dict(state["model"])


def test_trained_batchnorm_checkpoint_round_trips(tmp_path):
    # kuangliu/pytorch-cifar: torch.save({'net': net.state_dict(), 'acc': acc, 'epoch': epoch}, path) after
    # training, when num_batches_tracked is a counted 0-d int64 buffer
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    for _ in range(2):
        net(mathdl.randn(2, 3, 5, 5))
    mathdl.save({"net": net.state_dict(), "acc": 42.5, "epoch": 1}, tmp_path / "ckpt.pth")
    back = mathdl.load(tmp_path / "ckpt.pth")
    count = back["net"]["1.num_batches_tracked"]
    assert count.dtype == mathdl.int64 and tuple(count.shape) == () and count.item() == 2
    assert back["acc"] == 42.5 and back["epoch"] == 1
    fresh = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    fresh.load_state_dict(back["net"])
    _assert_bits_equal(fresh[1].running_var, net[1].running_var)


def test_numpy_scalar_held_by_a_tensor_is_saved_as_0d(tmp_path):
    t = mathdl.tensor(0)
    t.array = np.int64(7)  # some ops hand back NumPy scalars for 0-d results
    mathdl.save({"t": t}, tmp_path / "s.pt")
    back = mathdl.load(tmp_path / "s.pt")["t"]
    assert back.item() == 7 and tuple(back.shape) == () and back.dtype == mathdl.int64


def test_load_takes_pytorchs_arguments(tmp_path):
    # torch.load(path, map_location='cpu'), map_location=device, lambda storage, loc: storage, weights_only=...
    mathdl.save({"w": mathdl.ones(2), "x": [np.zeros(1), (mathdl.zeros(1),)]}, tmp_path / "c.pt")
    plain = mathdl.load(tmp_path / "c.pt")
    for kwargs in ({"map_location": "cpu"}, {"map_location": mathdl.device("cpu")}, {"weights_only": True},
                   {"map_location": lambda storage, loc: storage, "weights_only": False, "mmap": None},
                   {"map_location": {"cuda:0": "cpu"}}):
        back = mathdl.load(tmp_path / "c.pt", **kwargs)
        _assert_bits_equal(back["w"], plain["w"])
        _assert_bits_equal(back["x"][1][0], plain["x"][1][0])
        assert isinstance(back["x"][0], np.ndarray) and isinstance(back["x"][1], tuple)
    seen = []
    mathdl.load(tmp_path / "c.pt", map_location=lambda t, loc: seen.append(loc) or t)
    assert seen == ["cpu", "cpu"]


@pytest.mark.parametrize("where, error, words", [
    (3, TypeError, "map_location must be"),
    (lambda t, loc: "x", TypeError, "expected a Tensor"),
    ("tpu", ValueError, "unknown device type 'tpu'"),
])
def test_load_map_location_errors(tmp_path, where, error, words):
    mathdl.save({"w": mathdl.ones(2)}, tmp_path / "c.pt")
    with pytest.raises(error, match=words):
        mathdl.load(tmp_path / "c.pt", map_location=where)
