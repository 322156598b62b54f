"""The fused float32 road of the LSTM / GRU recurrence (mathdl/ops/recurrent_kernels.py: one compiled
kernel per step around the W_hh product) against the NumPy road, the composite reference and PyTorch.

Tolerances.  The kernels' tanh is a rational approximation with max abs error 2.4e-7 (tested below),
and their sums are reassociated, so they differ from NumPy's float32 results by a few float32 ulps
per step, carried through the recurrence: 1e-6 relative to the size of the values compared against the
NumPy road.  Against PyTorch both libraries are compared with torch in float64 on the same weights:
mathdl's float32 error must stay within 4x PyTorch's own float32 error (plus 2e-6 absolute slack for
entries where torch's error happens to be near zero), i.e. the fused road is as accurate as PyTorch's.
"""

import numpy as np
import pytest

import mathdl as md
from mathdl.nn.modules import recurrent as R
from mathdl.nn.utils import rnn as U
from mathdl.ops import recurrent as rec

K = rec._fused_kernels("LSTM", [np.zeros(1, np.float32)])
pytestmark = pytest.mark.skipif(K is None, reason="numba is not installed (or MATHDL_NO_NUMBA / MATHDL_FUSED_RNN=0)")

T, B, H = 6, 5, 13  # H not a multiple of the SIMD width: the loops' remainders run too


def _inputs(rng, mode, packed, proj, bias=True):
    P = 4 if proj else H
    G = rec.GATES[mode]
    sizes = (5, 5, 4, 2, 2, 1) if packed else None
    mk = lambda *s: md.tensor((rng.standard_normal(s) * 0.7).astype(np.float32), requires_grad=True)  # noqa: E731
    args = {"xw": mk(sum(sizes), G * H) if packed else mk(T, B, G * H), "h0": mk(B, P)}
    if mode == "LSTM":
        args["c0"] = mk(B, H)
    args["w_hh"] = mk(G * H, P)
    if bias:
        args["b_hh"] = mk(G * H)
    if proj:
        args["w_hr"] = mk(P, H)
    return args, sizes


def _run(args, mode, reverse, sizes, fused, monkeypatch):
    monkeypatch.setattr(rec, "FUSED", fused)
    z = rec.recurrence(mode, **args, reverse=reverse, batch_sizes=sizes)
    assert (z._node.fused is not None) == fused
    v = md.tensor(np.random.default_rng(9).standard_normal(z.shape).astype(np.float32))
    return z, md.autograd.grad([z], list(args.values()), [v])


CASES = [(m, r, p, j, b) for m in ("LSTM", "GRU") for r in (False, True) for p in (False, True)
         for j in ((False, True) if m == "LSTM" else (False,)) for b in ((True, False) if not (r or p) else (True,))]


@pytest.mark.parametrize("mode, reverse, packed, proj, bias", CASES)
def test_fused_matches_numpy_road_and_reference(monkeypatch, mode, reverse, packed, proj, bias):
    args, sizes = _inputs(np.random.default_rng(0), mode, packed, proj, bias)
    zf, gf = _run(args, mode, reverse, sizes, True, monkeypatch)
    zn, gn = _run(args, mode, reverse, sizes, False, monkeypatch)
    zr = rec.recurrence_reference(mode, **args, reverse=reverse, batch_sizes=sizes)
    assert zf.dtype == np.float32 and zf.shape == zn.shape
    for name, a, b in [("Z", zf, zn), ("Z vs reference", zf, zr)] + list(zip(args, gf, gn)):
        a, b = a.array, b.array
        assert a.dtype == np.float32 and a.shape == b.shape, name
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6 * max(1.0, np.abs(b).max()), err_msg=name)


def test_inactive_rows_keep_their_state(monkeypatch):
    """Packed (batch sizes 5 5 4 2 2 1): a row's state after its last step is carried unchanged."""
    args, sizes = _inputs(np.random.default_rng(1), "LSTM", True, False)
    z, _ = _run(args, "LSTM", False, sizes, True, monkeypatch)
    Z = z.array
    np.testing.assert_array_equal(Z[2:, 4], np.broadcast_to(Z[1, 4], (T - 2, 2 * H)))  # row 4: steps 0, 1
    np.testing.assert_array_equal(Z[3:, 2], np.broadcast_to(Z[2, 2], (T - 3, 2 * H)))  # row 2: steps 0..2
    assert not np.array_equal(Z[2, 2], Z[1, 2])


def test_nan_propagates(monkeypatch):
    args, _ = _inputs(np.random.default_rng(2), "LSTM", False, False)
    args["xw"].array[2, 1, 3] = np.nan
    z, _ = _run(args, "LSTM", False, None, True, monkeypatch)
    assert np.isfinite(z.array[:2]).all() and np.isnan(z.array[2, 1]).any() and np.isfinite(z.array[:, 0]).all()


def test_kernel_tanh_accuracy():
    x = np.concatenate([np.linspace(-12, 12, 200001), [0.0, -0.0, 1e-30, 7.9, 7.91, 30, np.inf, -np.inf]])
    x = x.astype(np.float32)
    out = np.empty_like(x)
    K.tanh(x, out)
    err = np.abs(out.astype(np.float64) - np.tanh(x.astype(np.float64)))
    assert err.max() < 3e-7
    assert np.all(np.abs(out) <= 1) and out[np.argmax(x == 0)] == 0
    nan = np.array([np.nan], np.float32)
    K.tanh(nan, out[:1])
    assert np.isnan(out[0])


def test_road_choice(monkeypatch):
    """float64 and the switch take the NumPy road; float32 NumPy arrays the fused one."""
    f32 = [np.zeros((2, 2), np.float32)]
    assert rec._fused_kernels("LSTM", f32) is K and rec._fused_kernels("GRU", f32) is K
    assert rec._fused_kernels("RNN_TANH", f32) is None
    assert rec._fused_kernels("LSTM", f32 + [np.zeros(2)]) is None  # a float64 array among them
    monkeypatch.setattr(rec, "FUSED", False)
    assert rec._fused_kernels("LSTM", f32) is None


def test_double_backward_under_fused_forward(monkeypatch):
    """create_graph differentiates the composite recurrence, whatever road the forward took."""
    args, _ = _inputs(np.random.default_rng(3), "GRU", False, False)
    z = rec.recurrence("GRU", **args)
    assert z._node.fused is not None
    (gx,) = md.autograd.grad([(z * z).sum()], [args["xw"]], create_graph=True)
    (gg,) = md.autograd.grad([(gx * gx).sum()], [args["w_hh"]])
    monkeypatch.setattr(rec, "FUSED", False)
    z2 = rec.recurrence("GRU", **args)
    (gx2,) = md.autograd.grad([(z2 * z2).sum()], [args["xw"]], create_graph=True)
    (gg2,) = md.autograd.grad([(gx2 * gx2).sum()], [args["w_hh"]])
    np.testing.assert_allclose(gx.array, gx2.array, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gg.array, gg2.array, rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------ layers against PyTorch
LAYERS = [("LSTM", {}), ("LSTM", {"bidirectional": True, "batch_first": True}), ("LSTM", {"proj_size": 5}),
          ("LSTM", {"bidirectional": True, "proj_size": 4, "bias": False}), ("GRU", {}),
          ("GRU", {"bidirectional": True, "batch_first": True})]


@pytest.mark.parametrize("cls, kw", LAYERS)
@pytest.mark.parametrize("packed", [False, True])
def test_two_layer_float32_matches_torch(cls, kw, packed):
    torch = pytest.importorskip("torch")
    I, lengths = 7, [6, 3, 5, 1, 6]
    torch.manual_seed(0)
    t64 = getattr(torch.nn, cls)(I, H, 2, **kw).double()
    t32 = getattr(torch.nn, cls)(I, H, 2, **kw)
    t32.load_state_dict(t64.state_dict())
    m = getattr(R, cls)(I, H, 2, **kw)
    m.load_state_dict({k: md.tensor(v.float().numpy()) for k, v in t64.state_dict().items()})
    bf = kw.get("batch_first", False)
    x = np.random.default_rng(4).standard_normal((B, T, I) if bf else (T, B, I)).astype(np.float32)
    D = 2 if kw.get("bidirectional") else 1
    h0 = np.random.default_rng(5).standard_normal((2 * D, B, kw.get("proj_size", 0) or H)).astype(np.float32)
    c0 = np.random.default_rng(6).standard_normal((2 * D, B, H)).astype(np.float32)

    def run(lib, model, dtype):
        leaves = [lib.tensor(a.astype(dtype), requires_grad=True) for a in (x, h0, c0)]
        inp = leaves[0]
        if packed:
            mod = torch.nn.utils.rnn if lib is torch else U
            inp = mod.pack_padded_sequence(inp, lengths, batch_first=bf, enforce_sorted=False)
        out, st = model(inp, (leaves[1], leaves[2]) if cls == "LSTM" else leaves[1])
        if packed:
            out = out.data
        sts = list(st) if cls == "LSTM" else [st]
        w = np.random.default_rng(7)
        loss = sum((a * lib.tensor(w.standard_normal(tuple(a.shape)).astype(dtype))).sum() for a in [out] + sts)
        loss.backward()
        used = leaves if cls == "LSTM" else leaves[:2]
        res = [out] + sts + [t.grad for t in used] + [p.grad for p in model.parameters()]
        return [np.asarray(r.detach().numpy() if lib is torch else r.array, dtype=np.float64) for r in res]

    ref, tf, mf = run(torch, t64, np.float64), run(torch, t32, np.float32), run(md, m, np.float32)
    assert len(mf) == len(ref)
    for k, (a, b, c) in enumerate(zip(mf, tf, ref)):
        assert a.shape == c.shape, k
        err_m, err_t = np.abs(a - c).max(), np.abs(b - c).max()
        assert err_m <= 4 * err_t + 2e-6, (k, err_m, err_t)
