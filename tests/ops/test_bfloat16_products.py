"""bfloat16 matrix products return bfloat16, as PyTorch's do (NumPy has no bfloat16 BLAS or einsum
kernel: mathdl computes in float32 and rounds the result), and their gradients are bfloat16 too."""

import numpy as np
import pytest

import mathdl as md
import mathdl.nn.functional as F

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of this parity test")

PRODUCTS = {
    "matmul": (lambda lib, a, b: lib.matmul(a, b), ((3, 4), (4, 5))),
    "bmm": (lambda lib, a, b: lib.bmm(a, b), ((2, 3, 4), (2, 4, 5))),
    "einsum": (lambda lib, a, b: lib.einsum("bij,bjk->bik", a, b), ((2, 3, 4), (2, 4, 5))),
    "linear": (lambda lib, a, b: lib.nn.functional.linear(a, b), ((3, 4), (5, 4))),
    "linear3d": (lambda lib, a, b: lib.nn.functional.linear(a, b), ((2, 3, 4), (5, 4))),
    "tensordot": (lambda lib, a, b: lib.tensordot(a, b, dims=1), ((3, 4), (4, 5))),
}


@pytest.mark.parametrize("name", list(PRODUCTS))
def test_bfloat16_product_matches_torch(name):
    fn, (sa, sb) = PRODUCTS[name]
    rng = np.random.default_rng(0)
    a0, b0 = rng.standard_normal(sa), rng.standard_normal(sb)
    ma = md.tensor(a0, dtype=md.bfloat16, requires_grad=True)
    mb = md.tensor(b0, dtype=md.bfloat16, requires_grad=True)
    ta = torch.tensor(a0, dtype=torch.bfloat16, requires_grad=True)
    tb = torch.tensor(b0, dtype=torch.bfloat16, requires_grad=True)
    mo, to = fn(md, ma, mb), fn(torch, ta, tb)
    assert mo.dtype == md.bfloat16
    np.testing.assert_allclose(mo.detach().float().numpy(), to.detach().float().numpy(), rtol=2e-2, atol=2e-2)
    mo.float().sum().backward()
    to.float().sum().backward()
    for m, t in ((ma, ta), (mb, tb)):
        assert m.grad.dtype == md.bfloat16
        np.testing.assert_allclose(m.grad.float().numpy(), t.grad.float().numpy(), rtol=2e-2, atol=5e-2)


def test_autocast_bfloat16_linear_is_bfloat16():
    x, w = md.randn(3, 4), md.randn(5, 4)
    with md.amp.autocast("cpu", dtype=md.bfloat16):
        assert F.linear(x, w).dtype == md.bfloat16 and (x @ w.T).dtype == md.bfloat16
