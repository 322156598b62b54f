"""Weight gradients with few im2col rows (RGB or grey stems) as one batched product over chunks of
pixels (conv._product_few_rows): equal to the plain product, to PyTorch, float64 gradcheck and
gradgradcheck with the chunks forced small."""

from __future__ import annotations

import numpy as np
import pytest

import mathdl
import mathdl.nn.functional as F
from mathdl.autograd import gradcheck, gradgradcheck
from mathdl.ops import conv as cv


@pytest.mark.parametrize("rows, k", [(27, 5000), (9, 4096), (40, 5000), (27, 1500)])
def test_chunked_product_equals_plain(rows, k):
    rng = np.random.default_rng(0)
    cols = rng.standard_normal((rows, k)).astype(np.float32)
    gm = rng.standard_normal((16, k)).astype(np.float32)
    np.testing.assert_allclose(cv._product_few_rows(cols, gm), cols @ gm.T, rtol=1e-4, atol=1e-3)
    want64 = cols.astype(np.float64) @ gm.T.astype(np.float64)
    np.testing.assert_allclose(cv._product_few_rows(cols.astype(np.float64), gm.astype(np.float64)), want64,
                               rtol=1e-12, atol=1e-10)


@pytest.mark.parametrize("xs, padding", [((4, 3, 32, 32), 1), ((6, 1, 28, 28), 0)])
def test_stem_weight_gradient_matches_torch(monkeypatch, xs, padding):
    torch = pytest.importorskip("torch")
    calls = []
    real = cv._product_few_rows
    monkeypatch.setattr(cv, "_product_few_rows", lambda c, g: calls.append(c.shape) or real(c, g))
    rng = np.random.default_rng(1)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal((16, xs[1], 3, 3)).astype(np.float32)
    mw = mathdl.tensor(w, requires_grad=True)
    y = F.conv2d(mathdl.tensor(x), mw, padding=padding)  # the input needs no gradient, as a stem's
    g = rng.standard_normal(y.shape).astype(np.float32)
    (y * mathdl.tensor(g)).sum().backward()
    tw = torch.tensor(w, requires_grad=True)
    (torch.nn.functional.conv2d(torch.tensor(x), tw, padding=padding) * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(mw.grad.array, tw.grad.numpy(), rtol=1e-4, atol=1e-3)
    assert any(c[1] >= 2 * cv.K_CHUNK for c in calls), "the chunked product was not used"


@pytest.mark.parametrize("padding", [1, 0])
def test_chunked_weight_gradient_gradcheck_and_gradgradcheck(monkeypatch, padding):
    monkeypatch.setattr(cv, "K_CHUNK", 4)
    calls = []
    real = cv._product_few_rows
    monkeypatch.setattr(cv, "_product_few_rows", lambda c, g: calls.append(c.shape) or real(c, g))
    rng = np.random.default_rng(2)
    x = mathdl.tensor(rng.standard_normal((2, 1, 5, 5)), dtype=mathdl.float64, requires_grad=True)
    xc = mathdl.tensor(rng.standard_normal((2, 1, 5, 5)), dtype=mathdl.float64)
    w = mathdl.tensor(rng.standard_normal((3, 1, 3, 3)), dtype=mathdl.float64, requires_grad=True)
    f = lambda x, w: F.conv2d(x, w, padding=padding)  # noqa: E731
    assert gradcheck(f, (x, w))
    assert gradgradcheck(f, (x, w))
    g = lambda w: F.conv2d(xc, w, padding=padding)  # noqa: E731  (only the weight: the chunked road)
    assert gradcheck(g, (w,))
    assert gradgradcheck(g, (w,))
    assert any(c[1] >= 8 for c in calls), "the chunked product was not used"
