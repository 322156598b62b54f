"""MultiheadAttention and the transformer layers against torch with copied weights."""

import numpy as np
import pytest

import mathdl
import mathdl.nn as nn

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(1)


def copy_weights(tmod, mmod):
    """Load torch's state dict into the mathdl module (same names and shapes)."""
    sd = {k: v.detach().numpy().copy() for k, v in tmod.state_dict().items()}
    assert set(sd) == set(mmod.state_dict()), set(sd) ^ set(mmod.state_dict())
    mmod.load_state_dict({k: mathdl.tensor(v) for k, v in sd.items()})


def compare_grads(tmod, mmod, atol=2e-5):
    mparams = dict(mmod.named_parameters())
    for name, p in tmod.named_parameters():
        np.testing.assert_allclose(mparams[name].grad.numpy(), p.grad.numpy(), atol=atol, rtol=1e-4, err_msg=name)


def both(x, requires_grad=True):
    return torch.tensor(x, requires_grad=requires_grad), mathdl.tensor(x, requires_grad=requires_grad)


def weighted_sum(out_t, out_m):
    w = np.linspace(-1, 1, out_t.numel()).reshape(out_t.shape).astype(np.float32)
    return (out_t * torch.tensor(w)).sum(), (out_m * mathdl.tensor(w)).sum()


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("masks", ["none", "bool", "float"])
def test_mha_matches_torch(batch_first, masks):
    E, H, N, L = 16, 4, 3, 5
    tm = torch.nn.MultiheadAttention(E, H, batch_first=batch_first)
    mm = nn.MultiheadAttention(E, H, batch_first=batch_first)
    copy_weights(tm, mm)
    x = RNG.standard_normal((N, L, E) if batch_first else (L, N, E)).astype(np.float32)
    kw_t, kw_m = {}, {}
    if masks == "bool":
        kpm = np.zeros((N, L), bool)
        kpm[0, 3:] = True
        am = RNG.random((L, L)) > 0.7
        np.fill_diagonal(am, False)
        kw_t = {"key_padding_mask": torch.tensor(kpm), "attn_mask": torch.tensor(am)}
        kw_m = {"key_padding_mask": mathdl.tensor(kpm), "attn_mask": mathdl.tensor(am)}
    elif masks == "float":
        am = RNG.standard_normal((N * H, L, L)).astype(np.float32)
        kpm = RNG.standard_normal((N, L)).astype(np.float32)
        kw_t = {"key_padding_mask": torch.tensor(kpm), "attn_mask": torch.tensor(am)}
        kw_m = {"key_padding_mask": mathdl.tensor(kpm), "attn_mask": mathdl.tensor(am)}
    tx, mx = both(x)
    t_out, t_w = tm(tx, tx, tx, **kw_t)
    m_out, m_w = mm(mx, mx, mx, **kw_m)
    np.testing.assert_allclose(m_out.numpy(), t_out.detach().numpy(), atol=2e-6)
    np.testing.assert_allclose(m_w.numpy(), t_w.detach().numpy(), atol=2e-6)
    lt, lm = weighted_sum(t_out, m_out)
    (lt + t_w.sum()).backward()
    (lm + m_w.sum()).backward()
    np.testing.assert_allclose(mx.grad.numpy(), tx.grad.numpy(), atol=2e-5)
    compare_grads(tm, mm)


def test_mha_cross_attention_kdim_vdim_per_head_weights_and_unbatched():
    E, H = 8, 2
    tm = torch.nn.MultiheadAttention(E, H, kdim=5, vdim=3, batch_first=True)
    mm = nn.MultiheadAttention(E, H, kdim=5, vdim=3, batch_first=True)
    copy_weights(tm, mm)
    assert mm.in_proj_weight is None and mm.k_proj_weight.shape == (E, 5)
    q = RNG.standard_normal((2, 4, E)).astype(np.float32)
    k = RNG.standard_normal((2, 6, 5)).astype(np.float32)
    v = RNG.standard_normal((2, 6, 3)).astype(np.float32)
    t_out, t_w = tm(torch.tensor(q), torch.tensor(k), torch.tensor(v), average_attn_weights=False)
    m_out, m_w = mm(mathdl.tensor(q), mathdl.tensor(k), mathdl.tensor(v), average_attn_weights=False)
    np.testing.assert_allclose(m_out.numpy(), t_out.detach().numpy(), atol=2e-6)
    assert m_w.shape == (2, H, 4, 6)
    np.testing.assert_allclose(m_w.numpy(), t_w.detach().numpy(), atol=2e-6)
    # unbatched input (L, E)
    t_out, t_w = tm(torch.tensor(q[0]), torch.tensor(k[0]), torch.tensor(v[0]))
    m_out, m_w = mm(mathdl.tensor(q[0]), mathdl.tensor(k[0]), mathdl.tensor(v[0]))
    np.testing.assert_allclose(m_out.numpy(), t_out.detach().numpy(), atol=2e-6)
    np.testing.assert_allclose(m_w.numpy(), t_w.detach().numpy(), atol=2e-6)
    out, w = mm(mathdl.tensor(q), mathdl.tensor(k), mathdl.tensor(v), need_weights=False)
    assert w is None


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer_matches_torch(norm_first, activation):
    tl = torch.nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, activation=activation, batch_first=True,
                                          norm_first=norm_first)
    ml = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, activation=activation, batch_first=True,
                                    norm_first=norm_first)
    copy_weights(tl, ml)
    x = RNG.standard_normal((3, 5, 16)).astype(np.float32)
    kpm = np.zeros((3, 5), bool)
    kpm[1, 4:] = True
    tx, mx = both(x)
    t_out = tl(tx, src_key_padding_mask=torch.tensor(kpm))
    m_out = ml(mx, src_key_padding_mask=mathdl.tensor(kpm))
    np.testing.assert_allclose(m_out.numpy(), t_out.detach().numpy(), atol=1e-5)
    lt, lm = weighted_sum(t_out, m_out)
    lt.backward()
    lm.backward()
    np.testing.assert_allclose(mx.grad.numpy(), tx.grad.numpy(), atol=2e-5)
    compare_grads(tl, ml)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_decoder_layer_matches_torch(norm_first, activation):
    tl = torch.nn.TransformerDecoderLayer(16, 4, 32, dropout=0.0, activation=activation, norm_first=norm_first)
    ml = nn.TransformerDecoderLayer(16, 4, 32, dropout=0.0, activation=activation, norm_first=norm_first)
    copy_weights(tl, ml)
    y = RNG.standard_normal((4, 3, 16)).astype(np.float32)  # (T, N, E): batch_first=False
    mem = RNG.standard_normal((5, 3, 16)).astype(np.float32)
    mkpm = np.zeros((3, 5), bool)
    mkpm[2, 3:] = True
    ty, my = both(y)
    tmem, mmem = both(mem)
    t_out = tl(ty, tmem, tgt_mask=torch.nn.Transformer.generate_square_subsequent_mask(4),
               memory_key_padding_mask=torch.tensor(mkpm))
    m_out = ml(my, mmem, tgt_mask=nn.Transformer.generate_square_subsequent_mask(4),
               memory_key_padding_mask=mathdl.tensor(mkpm))
    np.testing.assert_allclose(m_out.numpy(), t_out.detach().numpy(), atol=1e-5)
    lt, lm = weighted_sum(t_out, m_out)
    lt.backward()
    lm.backward()
    np.testing.assert_allclose(my.grad.numpy(), ty.grad.numpy(), atol=2e-5)
    np.testing.assert_allclose(mmem.grad.numpy(), tmem.grad.numpy(), atol=2e-5)
    compare_grads(tl, ml)


def test_full_transformer_matches_torch():
    tt = torch.nn.Transformer(16, 4, 2, 2, 32, dropout=0.0, batch_first=True)
    mt = nn.Transformer(16, 4, 2, 2, 32, dropout=0.0, batch_first=True)
    copy_weights(tt, mt)
    s = RNG.standard_normal((2, 5, 16)).astype(np.float32)
    t = RNG.standard_normal((2, 4, 16)).astype(np.float32)
    ts, ms = both(s)
    t_out = tt(ts, torch.tensor(t), tgt_mask=torch.nn.Transformer.generate_square_subsequent_mask(4))
    m_out = mt(ms, mathdl.tensor(t), tgt_mask=nn.Transformer.generate_square_subsequent_mask(4))
    np.testing.assert_allclose(m_out.numpy(), t_out.detach().numpy(), atol=2e-5)
    lt, lm = weighted_sum(t_out, m_out)
    lt.backward()
    lm.backward()
    np.testing.assert_allclose(ms.grad.numpy(), ts.grad.numpy(), atol=5e-5)
    compare_grads(tt, mt, atol=5e-5)


def test_encoder_stack_causal_and_final_norm():
    tl = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True, norm_first=True)
    te = torch.nn.TransformerEncoder(tl, 2, norm=torch.nn.LayerNorm(8), enable_nested_tensor=False)
    me = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True, norm_first=True),
                               2, norm=nn.LayerNorm(8))
    copy_weights(te, me)
    x = RNG.standard_normal((2, 6, 8)).astype(np.float32)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(6)
    t_out = te(torch.tensor(x), mask=mask, is_causal=True)
    m_out = me(mathdl.tensor(x), mask=nn.Transformer.generate_square_subsequent_mask(6))
    np.testing.assert_allclose(m_out.numpy(), t_out.detach().numpy(), atol=1e-5)
    # the causal flag alone gives the same as the explicit mask
    np.testing.assert_allclose(me(mathdl.tensor(x), is_causal=True).numpy(), m_out.numpy(), atol=1e-6)


def test_positional_encodings():
    pe = nn.SinusoidalPositionalEncoding(6, max_len=10)
    x = mathdl.zeros(1, 4, 6)
    out = pe(x).numpy()[0]
    p, i = 3, 1
    assert np.isclose(out[p, 2 * i], np.sin(p / 10000 ** (2 * i / 6)))
    assert np.isclose(out[p, 2 * i + 1], np.cos(p / 10000 ** (2 * i / 6)))
    assert pe.state_dict() == {}  # a constant, not saved
    lp = nn.LearnedPositionalEncoding(6, max_len=5)
    y = lp(mathdl.ones(2, 3, 6))
    y.sum().backward()
    np.testing.assert_allclose(lp.weight.grad.numpy()[:3], 2.0)
    np.testing.assert_allclose(lp.weight.grad.numpy()[3:], 0.0)
    with pytest.raises(ValueError, match="sequence length 6 exceeds max_len=5"):
        lp(mathdl.ones(1, 6, 6))


def test_layer_bad_inputs():
    with pytest.raises(ValueError, match="embed_dim=10 must be divisible by num_heads=3"):
        nn.MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match="d_model=10 must be divisible by nhead=4"):
        nn.TransformerEncoderLayer(10, 4)
    with pytest.raises(ValueError, match="d_model=10 must be divisible by nhead=4"):
        nn.TransformerDecoderLayer(10, 4)
    with pytest.raises(ValueError, match="activation"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")
    mha = nn.MultiheadAttention(8, 2, batch_first=True)
    x = mathdl.randn(2, 5, 8)
    with pytest.raises(ValueError, match=r"attn_mask of shape \(4, 5\) is wrong.*\(5, 5\)"):
        mha(x, x, x, attn_mask=mathdl.ones(4, 5).bool())
    with pytest.raises(ValueError, match=r"key_padding_mask of shape \(2, 4\) is wrong.*\(2, 5\)"):
        mha(x, x, x, key_padding_mask=mathdl.zeros(2, 4).bool())
    with pytest.raises(ValueError, match="expected embed_dim=8"):
        mha(mathdl.randn(2, 5, 6), x, x)
    with pytest.raises(IndexError, match="index 12 is out of range for num_embeddings=10"):
        nn.Embedding(10, 4)(mathdl.tensor([[1, 12]]))


def test_mha_gradcheck_and_gradgradcheck_float64():
    from mathdl.autograd import gradcheck, gradgradcheck

    mathdl.manual_seed(0)
    mha = nn.MultiheadAttention(4, 2, batch_first=True, dtype=mathdl.float64)
    x = mathdl.tensor(np.random.default_rng(0).standard_normal((1, 3, 4)), dtype=mathdl.float64,
                      requires_grad=True)
    mask = mathdl.tensor(np.array([[False, True, True], [False, False, True], [False, False, False]]))

    def f(t):
        return mha(t, t, t, attn_mask=mask, need_weights=False)[0]

    assert gradcheck(f, (x,))
    assert gradgradcheck(f, (x,))
