"""The device path of mathdl.linalg, checked without a GPU on the emulated CuPy module of
tests/device (it refuses implicit host copies as CuPy does): every row of the linalg table gives
the CPU's values and gradients, and its results stay on the device."""

from __future__ import annotations

import numpy as np
import pytest

import mathdl as md
from mathdl import backend

from .linalg_table import OPS, as_list, cases

emulated_cupy = pytest.importorskip("device.emulated_cupy")

# rows whose device path needs what the emulator lacks (each names why)
NOT_EMULATED = {
    "lu": "LU uses cupyx.scipy.linalg.lu, which the emulated cupyx does not provide",
    "lu_P": "LU uses cupyx.scipy.linalg.lu",
    "lu_factor": "LU uses cupyx.scipy.linalg.lu",
    "lu_factor_pivots": "LU uses cupyx.scipy.linalg.lu",
    "lu_factor_ex": "LU uses cupyx.scipy.linalg.lu",
    "lu_solve": "LU uses cupyx.scipy.linalg.lu",
    "lu_solve_adjoint_right": "LU uses cupyx.scipy.linalg.lu",
    "cholesky_ex": "the row adds md.eye(3), made on the CPU, to a device tensor",
}
CASES, IDS = cases([o for o in OPS if o.name not in NOT_EMULATED])


def install_device(monkeypatch):
    """The emulated CuPy module as mathdl's "cuda" backend.  mathdl/autograd/engine.py (line 151) reads
    ``arr.flags.writeable``, which CuPy arrays lack (reported to the engine's owner); until that is
    fixed, device arrays here also answer writeable=False (the engine then never reuses them in place),
    so that these tests check the linalg/special ops rather than that engine line."""
    import types

    xp = emulated_cupy.install(monkeypatch, backend)
    monkeypatch.setattr(emulated_cupy.DeviceArray, "flags", property(lambda self: types.SimpleNamespace(
        c_contiguous=self._a.flags.c_contiguous, f_contiguous=self._a.flags.f_contiguous,
        owndata=self._a.flags.owndata, writeable=False)))
    return xp


def host(t):
    d = t.array
    return d.get() if hasattr(d, "get") and not isinstance(d, np.ndarray) else np.asarray(d)


def check_on_device(op, sample, xp, outs_fn=as_list):
    xc = [md.tensor(a, requires_grad=op.grad) if isinstance(a, np.ndarray) and a.dtype.kind == "f"
          else (md.tensor(a) if isinstance(a, np.ndarray) else a) for a in sample.args]
    xd = []
    for a in xc:
        if isinstance(a, md.Tensor):
            d = a.detach().to("cuda")
            d.requires_grad_(a.requires_grad)
            xd.append(d)
        else:
            xd.append(a)
    oc, od = outs_fn(op.fn(*xc, **sample.kwargs)), outs_fn(op.fn(*xd, **sample.kwargs))
    for a, b in zip(oc, od):
        assert isinstance(b.array, xp.ndarray), f"{op.name}: result left the device"
        np.testing.assert_allclose(host(b), host(a), rtol=1e-9, atol=1e-11, err_msg=op.name)
    if not op.grad:
        return
    rng = np.random.default_rng(0)
    seeds = [rng.standard_normal(o.shape) for o in oc]
    sum((o * md.tensor(s)).sum() for o, s in zip(oc, seeds)).backward()
    sum((o * md.tensor(s).to("cuda")).sum() for o, s in zip(od, seeds)).backward()
    for i, (a, b) in enumerate(zip(xc, xd)):
        if isinstance(a, md.Tensor) and a.requires_grad and a.grad is not None:
            assert isinstance(b.grad.array, xp.ndarray), f"{op.name}: gradient {i} left the device"
            np.testing.assert_allclose(host(b.grad), host(a.grad), rtol=1e-8, atol=1e-10, err_msg=f"{op.name} {i}")


@pytest.mark.parametrize("op,sample", CASES, ids=IDS)
def test_linalg_on_emulated_device(monkeypatch, op, sample):
    xp = install_device(monkeypatch)
    check_on_device(op, sample, xp)
