"""scaled_dot_product_attention: torch parity for every mask kind, gradcheck/gradgradcheck, errors."""

import numpy as np
import pytest

import mathdl
from mathdl.autograd import gradcheck, gradgradcheck
from mathdl.nn.functional import scaled_dot_product_attention as sdpa

RNG = np.random.default_rng(0)
Q = RNG.standard_normal((2, 3, 5, 4)).astype(np.float32)
K = RNG.standard_normal((2, 3, 6, 4)).astype(np.float32)
V = RNG.standard_normal((2, 3, 6, 7)).astype(np.float32)
BOOL_MASK = RNG.random((5, 6)) > 0.4
BOOL_MASK[:, 0] = True  # every query sees at least one key
FLOAT_MASK = RNG.standard_normal((2, 1, 5, 6)).astype(np.float32)
BATCH_BOOL = RNG.random((2, 3, 5, 6)) > 0.3
BATCH_BOOL[..., 1] = True

MASKS = {
    "none": {},
    "bool": {"attn_mask": BOOL_MASK},
    "float": {"attn_mask": FLOAT_MASK},
    "bool_per_head": {"attn_mask": BATCH_BOOL},
    "causal": {"is_causal": True},
    "scale": {"scale": 0.3},
}


@pytest.mark.parametrize("kind", list(MASKS))
def test_sdpa_matches_torch_outputs_and_gradients(kind):
    torch = pytest.importorskip("torch")
    kw = MASKS[kind]
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (Q, K, V))
    tkw = {k: torch.tensor(v) if k == "attn_mask" else v for k, v in kw.items()}
    t_out = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, **tkw)
    w = np.linspace(-1, 1, t_out.numel()).reshape(t_out.shape).astype(np.float32)
    (t_out * torch.tensor(w)).sum().backward()

    mq, mk, mv = (mathdl.tensor(a, requires_grad=True) for a in (Q, K, V))
    mkw = {k: mathdl.tensor(v) if k == "attn_mask" else v for k, v in kw.items()}
    m_out = sdpa(mq, mk, mv, **mkw)
    (m_out * mathdl.tensor(w)).sum().backward()

    np.testing.assert_allclose(m_out.numpy(), t_out.detach().numpy(), atol=2e-6, rtol=1e-5)
    for m, t in ((mq, tq), (mk, tk), (mv, tv)):
        np.testing.assert_allclose(m.grad.numpy(), t.grad.numpy(), atol=1e-5, rtol=1e-4)


def test_sdpa_unbatched_and_broadcast_batch():
    torch = pytest.importorskip("torch")
    q, k, v = Q[0, 0], K[0, 0], V[0, 0]
    out = sdpa(mathdl.tensor(q), mathdl.tensor(k), mathdl.tensor(v), is_causal=True)
    ref = torch.nn.functional.scaled_dot_product_attention(torch.tensor(q), torch.tensor(k), torch.tensor(v),
                                                           is_causal=True)
    np.testing.assert_allclose(out.numpy(), ref.numpy(), atol=2e-6)
    # keys/values shared by every head (batch dims broadcast); gradient summed back
    k1 = mathdl.tensor(K[:, :1], requires_grad=True)
    out = sdpa(mathdl.tensor(Q), k1, mathdl.tensor(V[:, :1]))
    out.sum().backward()
    assert out.shape == (2, 3, 5, 7) and k1.grad.shape == (2, 1, 6, 4)


def _f64(shape, seed):
    return mathdl.tensor(np.random.default_rng(seed).standard_normal(shape), dtype=mathdl.float64,
                         requires_grad=True)


@pytest.mark.parametrize("kind", ["none", "bool", "float", "causal"])
def test_sdpa_gradcheck_and_gradgradcheck_float64(kind):
    q, k, v = _f64((2, 3, 2), 1), _f64((2, 4, 2), 2), _f64((2, 4, 3), 3)
    rng = np.random.default_rng(4)
    kw = {"none": {}, "causal": {"is_causal": True},
          "bool": {"attn_mask": mathdl.tensor(np.array([[1, 0, 1, 1], [0, 1, 1, 0], [1, 1, 0, 0]], bool))},
          "float": {"attn_mask": mathdl.tensor(rng.standard_normal((3, 4)), dtype=mathdl.float64)}}[kind]

    def f(a, b, c):
        return sdpa(a, b, c, **kw)

    assert gradcheck(f, (q, k, v))
    assert gradgradcheck(f, (q, k, v))


def test_softmax_grad_primitive_gradgradcheck():
    """The fused backward primitive has its own differentiable backward."""
    from mathdl.ops.attention import SoftmaxGrad

    a = mathdl.softmax(_f64((2, 3, 4), 5), -1).detach().requires_grad_()
    g = _f64((2, 3, 4), 6)
    assert gradcheck(lambda p, h: SoftmaxGrad(0.7)(p, h), (a, g))
    assert gradgradcheck(lambda p, h: SoftmaxGrad(0.7)(p, h), (a, g))


def test_fully_masked_row_gives_zeros_not_nan():
    mask = np.ones((5, 6), bool)
    mask[2] = False
    q, k, v = (mathdl.tensor(a, requires_grad=True) for a in (Q, K, V))
    out = sdpa(q, k, v, attn_mask=mathdl.tensor(mask))
    out.sum().backward()
    assert np.isfinite(out.numpy()).all() and np.isfinite(q.grad.numpy()).all()
    np.testing.assert_array_equal(out.numpy()[:, :, 2], 0.0)


def test_sdpa_dropout_is_seeded_and_scaled():
    q, k, v = (mathdl.tensor(a) for a in (Q, K, V))
    mathdl.manual_seed(3)
    a = sdpa(q, k, v, dropout_p=0.5).numpy()
    mathdl.manual_seed(3)
    b = sdpa(q, k, v, dropout_p=0.5).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, sdpa(q, k, v).numpy())
    # E[dropout(A)] = A: average over many draws of a constant value tensor
    ones = mathdl.ones(2, 3, 6, 1)
    mean = np.mean([sdpa(q, k, ones, dropout_p=0.25).numpy() for _ in range(400)], axis=0)
    np.testing.assert_allclose(mean, 1.0, atol=0.06)


def test_sdpa_bad_inputs():
    q, k, v = (mathdl.tensor(a) for a in (Q, K, V))
    with pytest.raises(ValueError, match=r"attn_mask of shape \(4, 6\).*L=5, key length S=6"):
        sdpa(q, k, v, attn_mask=mathdl.ones(4, 6).bool())
    with pytest.raises(ValueError, match="cannot be broadcast"):
        sdpa(q, k, v, attn_mask=mathdl.ones(5, 5, 5, 6).bool())
    with pytest.raises(ValueError, match="either attn_mask or is_causal"):
        sdpa(q, k, v, attn_mask=mathdl.ones(5, 6).bool(), is_causal=True)
    with pytest.raises(TypeError, match="boolean.*floating"):
        sdpa(q, k, v, attn_mask=mathdl.ones(5, 6).long())
    with pytest.raises(ValueError, match="same feature size"):
        sdpa(q, mathdl.tensor(K[..., :3]), v)
    with pytest.raises(ValueError, match="same length"):
        sdpa(q, k, mathdl.tensor(V[:, :, :4]))
    with pytest.raises(ValueError, match="dropout_p"):
        sdpa(q, k, v, dropout_p=1.0)
