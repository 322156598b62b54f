"""The device path, checked without a GPU: every op of the op table, some layers and a training
step run on the emulated CuPy module (``emulated_cupy``), which refuses implicit host copies as
CuPy does.  Values and gradients must equal the CPU's, and results must stay on the device.

With ``MATHDL_TEST_CUPY=1`` on a machine with a GPU and CuPy, the same tests run on real CuPy.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import mathdl as md
from mathdl import backend

from ops.op_table import ALL_OPS, as_list, cases, to_mathdl
from . import emulated_cupy

REAL_CUPY = os.environ.get("MATHDL_TEST_CUPY") == "1"

# Ops whose device path is known to call host-only code; each names the reason.  strict=True: when
# one is fixed the xfail fails, so the list cannot go stale.
KNOWN_HOST_ONLY: dict[str, str] = {}


@pytest.fixture
def device(monkeypatch):
    if REAL_CUPY:
        cupy = pytest.importorskip("cupy")
        if not backend.cuda_is_available():
            pytest.skip("MATHDL_TEST_CUPY=1 but no GPU is visible")
        return cupy
    return emulated_cupy.install(monkeypatch, backend)


def _host(x):
    data = x.array if isinstance(x, md.Tensor) else x
    if isinstance(data, emulated_cupy.DeviceArray):
        return data.get()
    if hasattr(data, "get") and not isinstance(data, np.ndarray):
        return data.get()
    return np.asarray(data)


def _on_device(t, xp):
    return isinstance(t.array, xp.ndarray)


CASES, IDS = cases(ALL_OPS)


def _marks(op):
    reason = KNOWN_HOST_ONLY.get(op.name)
    return [pytest.mark.xfail(strict=True, reason=reason)] if reason and not REAL_CUPY else []


@pytest.mark.parametrize("op,sample", [pytest.param(o, s, marks=_marks(o)) for o, s in CASES], ids=IDS)
def test_op_on_device_equals_cpu(device, op, sample):
    dtype = np.float64
    want_grad = op.grad
    xc = to_mathdl(sample, dtype, requires_grad=want_grad)
    if not any(isinstance(a, md.Tensor) for a in xc):
        pytest.skip("no tensor input: a creation op, placed by its device= argument")
    outs_c = as_list(op.fn(*xc, **sample.kwargs))
    xd = []
    for a in xc:
        if isinstance(a, md.Tensor):
            d = a.detach().to("cuda")
            d.requires_grad_(a.requires_grad)
            xd.append(d)
        else:
            xd.append(a)
    outs_d = as_list(op.fn(*xd, **sample.kwargs))
    assert len(outs_c) == len(outs_d)
    if not all(isinstance(o, md.Tensor) for o in outs_c):  # Python values (bool, int): compare them
        plain = [o for o in outs_c if not isinstance(o, md.Tensor)]
        assert [o for o in outs_d if not isinstance(o, md.Tensor)] == plain
        return
    for oc, od in zip(outs_c, outs_d):
        assert _on_device(od, device), f"{op.name}: result left the device ({type(od.array).__name__})"
        assert od.dtype == oc.dtype, f"{op.name}: dtype {od.dtype} on device vs {oc.dtype} on cpu"
        np.testing.assert_allclose(_host(od), _host(oc), rtol=1e-10, atol=1e-12, err_msg=op.name)
    if not want_grad:
        return
    rng = np.random.default_rng(0)
    seeds = [rng.standard_normal(o.shape) for o in outs_c if o.dtype.kind == "f"]
    floats_c = [o for o in outs_c if o.dtype.kind == "f"]
    floats_d = [o for o in outs_d if o.dtype.kind == "f"]
    if not floats_c:
        return
    sum(((o * md.tensor(s)).sum() for o, s in zip(floats_c, seeds)), md.tensor(0.0, dtype=md.float64)).backward()
    sum(((o * md.tensor(s).to("cuda")).sum() for o, s in zip(floats_d, seeds)),
        md.tensor(0.0, dtype=md.float64).to("cuda")).backward()
    for i, (a, b) in enumerate(zip(xc, xd)):
        if not (isinstance(a, md.Tensor) and a.requires_grad) or a.grad is None:
            continue
        assert b.grad is not None, f"{op.name}: no gradient for input {i} on the device"
        assert _on_device(b.grad, device), f"{op.name}: gradient {i} left the device"
        np.testing.assert_allclose(_host(b.grad), _host(a.grad), rtol=1e-9, atol=1e-11, err_msg=f"{op.name} grad {i}")


def test_emulated_module_refuses_host_conversion(monkeypatch):
    mod = emulated_cupy.install(monkeypatch, backend)
    d = mod.asarray(np.ones(3))
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(d)
    with pytest.raises(TypeError, match="host numpy.ndarray"):
        d + np.ones(3)
    with pytest.raises(TypeError, match="host-only ufunc"):
        import scipy.special

        scipy.special.erf(d)
    t = md.ones(3).to("cuda")
    assert t.device == "cuda" and isinstance(t.array, emulated_cupy.DeviceArray)
    assert t.to("cpu").device == "cpu"


def test_mixed_devices_error_names_both(device):
    a = md.ones(3).to("cuda")
    b = md.ones(3)
    with pytest.raises((TypeError, RuntimeError), match="(?s)cuda.*cpu|cpu.*cuda"):
        a + b
    with pytest.raises(RuntimeError, match="same device.*cpu and cuda"):
        md.mul(b, a)
    with pytest.raises(RuntimeError, match="same device"):  # an op of three inputs
        md.where(md.ones(3, dtype=md.bool), a, b)
    with pytest.raises(RuntimeError, match="add_: .*same device.*cuda and cpu"):  # in place
        a.clone().add_(b)
    c = md.zeros(3).to("cuda")  # copy_ transfers, as PyTorch's, and its gradient returns to the source's device
    w = md.full((3,), 2.0, requires_grad=True)
    c.copy_(w * 3)
    assert _on_device(c, device) and _host(c).tolist() == [6.0, 6.0, 6.0]
    c.sum().backward()
    assert isinstance(w.grad.array, np.ndarray) and w.grad.numpy().tolist() == [3.0, 3.0, 3.0]


def test_device_scans_and_scatters_match_cpu(device):
    """The device formulas that replace ufunc.accumulate / multiply.at / repeat with a counts array
    (log-step scans, rank passes, searchsorted) agree with NumPy's on long lines with NaN, inf and
    many repeated indices."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal((3, 37)) * 30
    a[0, :5] = -np.inf
    a[1, 7] = np.inf
    a[2, 3] = np.nan
    a[1, 20:26] = 4.0  # ties: the index is the last one reached
    t, td = md.tensor(a), md.tensor(a).to("cuda")
    for f in (md.cummax, md.cummin):
        v, i = f(t, 1)
        vd, id_ = f(td, 1)
        assert _on_device(vd, device) and _on_device(id_, device)
        np.testing.assert_array_equal(_host(vd), _host(v))
        np.testing.assert_array_equal(_host(id_), _host(i))
    np.testing.assert_allclose(_host(md.logcumsumexp(td, 1)), _host(md.logcumsumexp(t, 1)), rtol=1e-13)
    x = md.tensor(rng.standard_normal((4, 5)))
    idx = md.tensor(rng.integers(0, 4, (9, 5)))  # every target written 2-3 times on average
    src = md.tensor(rng.standard_normal((9, 5)))
    out = md.scatter(x.to("cuda"), 0, idx.to("cuda"), src.to("cuda"), reduce="multiply")
    assert _on_device(out, device)
    np.testing.assert_allclose(_host(out), _host(md.scatter(x, 0, idx, src, reduce="multiply")), rtol=1e-15)
    counts = md.tensor([2, 0, 3, 1])
    np.testing.assert_array_equal(_host(md.repeat_interleave(counts.to("cuda"))), [0, 0, 2, 2, 2, 3])
    y = md.tensor(rng.standard_normal((4, 2)))
    np.testing.assert_array_equal(_host(md.repeat_interleave(y.to("cuda"), counts.to("cuda"), dim=0)),
                                  _host(md.repeat_interleave(y, counts, dim=0)))


def test_device_solve_broadcasts_batches(device):
    """CuPy's solve broadcasts no batch dimensions; mathdl's does, on both backends, as torch."""
    rng = np.random.default_rng(4)
    A = md.tensor(rng.standard_normal((2, 3, 3)) + 3 * np.eye(3))
    for B in (md.tensor(rng.standard_normal((3, 1))), md.tensor(rng.standard_normal((2, 3))),
              md.tensor(rng.standard_normal((5, 2, 3, 2)))):
        X = md.linalg.solve(A.to("cuda"), B.to("cuda"))
        assert _on_device(X, device)
        np.testing.assert_allclose(_host(X), _host(md.linalg.solve(A, B)), rtol=1e-12)


def test_device_exprel_matches_cpu(device):
    """phi_k(u) (the adaptive robust loss's special function) is computed on the device."""
    from mathdl.ops.losses import exprel_k

    u = md.tensor(np.array([-30.0, -2.0, -0.5, 0.0, 1e-9, 0.7, 3.0, 40.0]))
    for k in range(4):
        d = exprel_k(u.to("cuda"), k)
        assert _on_device(d, device)
        np.testing.assert_allclose(_host(d), _host(exprel_k(u, k)), rtol=1e-15)
