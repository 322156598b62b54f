"""Names PyTorch scripts use in their set-up lines: default device, determinism, matmul precision,
Size, set_printoptions, autocast, jit, autograd.Variable, grad(only_inputs=)."""

import numpy as np
import pytest

import mathdl as md

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of this parity test")


@pytest.fixture
def restore_print():
    yield
    md.set_printoptions(profile="default", sci_mode=None)
    torch.set_printoptions(profile="default", sci_mode=None)


@pytest.mark.parametrize("opts", [dict(precision=2), dict(precision=6), dict(sci_mode=True, precision=3),
                                  dict(sci_mode=False, precision=1)])
def test_set_printoptions_matches_torch(opts, restore_print):
    v = [1.234567, -20.5, 0.001]
    md.set_printoptions(**opts)
    torch.set_printoptions(**opts)
    assert repr(md.tensor(v, dtype=md.float32)) == repr(torch.tensor(v))


def test_set_printoptions_threshold_summarizes(restore_print):
    md.set_printoptions(threshold=5, edgeitems=2)
    assert "..." in repr(md.arange(10.0)) and "..." not in repr(md.arange(4.0))
    with pytest.raises(ValueError, match="unknown profile"):
        md.set_printoptions(profile="long")
    with pytest.raises(ValueError, match="precision must be"):
        md.set_printoptions(precision=-1)


def test_default_device_and_its_errors():
    assert md.get_default_device() == "cpu" == torch.get_default_device().type
    md.set_default_device("cpu")
    assert md.zeros(2).device == "cpu" and md.tensor([1.0]).device == "cpu"
    md.set_default_device(None)
    with pytest.raises(ValueError, match="unknown device"):
        md.set_default_device("tpu")
    if not md.cuda.is_available():
        with pytest.raises(RuntimeError, match="CuPy"):
            md.set_default_device("cuda")
    assert md.get_default_device() == "cpu"


def test_determinism_and_matmul_precision_switches():
    try:
        md.use_deterministic_algorithms(True, warn_only=True)
        assert md.are_deterministic_algorithms_enabled()
        md.set_float32_matmul_precision("high")
        assert md.get_float32_matmul_precision() == "high"
        with pytest.raises(ValueError, match="highest"):
            md.set_float32_matmul_precision("low")
        with pytest.raises(TypeError, match="bool"):
            md.use_deterministic_algorithms("yes")
    finally:
        md.use_deterministic_algorithms(False)
        md.set_float32_matmul_precision("highest")
    assert md.are_deterministic_algorithms_enabled() == torch.are_deterministic_algorithms_enabled()


def test_size_is_a_tuple_as_torch_size():
    s, t = md.Size([2, 3]), torch.Size([2, 3])
    assert s == tuple(t) and s.numel() == t.numel() and md.zeros(2, 3).shape == s
    with pytest.raises(ValueError, match="non-negative"):
        md.Size([-1])


def test_autocast_top_level_and_jit_and_variable():
    with md.autocast("cpu", dtype=md.bfloat16):
        assert (md.ones(2, 2) @ md.ones(2, 2)).dtype == md.bfloat16
    m = md.nn.Linear(2, 2)
    assert md.jit.script(m) is m and md.jit.trace(m, md.ones(1, 2)) is m and not md.jit.is_scripting()
    with pytest.raises(RuntimeError, match="state_dict"):
        md.jit.save(m, "m.pt")
    v = md.autograd.Variable(md.ones(2), requires_grad=True)
    assert isinstance(v, md.Tensor) and v.requires_grad


def test_grad_accepts_only_inputs_as_pytorch():
    x = md.tensor([1.0, 2.0], requires_grad=True)
    (g,) = md.autograd.grad((x * x).sum(), x, create_graph=True, only_inputs=True)
    np.testing.assert_allclose(g.detach().numpy(), [2.0, 4.0])
