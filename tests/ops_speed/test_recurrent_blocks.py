"""The fused recurrences (LSTM, GRU, RNN) with their batch columns in blocks on mathdl's threads (each thread runs
the whole time loop for its columns, BLAS on one thread): equal to one thread's result, to the
composite reference (packed and unpacked, reverse, projection), float64 gradcheck through that road,
the float32 compiled-kernel road (recurrent_kernels) in blocks equal to one block, and a 2-layer LSTM
step against PyTorch at two threads."""

from __future__ import annotations

import numpy as np
import pytest

import mathdl as md
from mathdl import parallel
from mathdl.autograd import gradcheck
from mathdl.ops import recurrent as rec

T, B, H = 4, 5, 3


@pytest.fixture
def split(monkeypatch):
    """Two threads; every recurrence on the column-block road, blocks of 2-3 columns."""
    old = parallel.get_num_threads()
    monkeypatch.setattr(rec, "PARALLEL_MIN_MACS", 0)
    monkeypatch.setattr(rec, "LOOP_PARALLEL_MIN_MACS", 0)
    monkeypatch.setattr(rec, "MIN_BLOCK_COLUMNS", 1)
    parallel.set_num_threads(2)
    yield
    parallel.set_num_threads(old)


def _inputs(rng, packed, proj, mode="LSTM", dtype=np.float64, T=T, B=B, H=H, proj_size=2, sizes=(5, 4, 2, 1)):
    """A recurrence's inputs (xw, h0, [c0], w_hh, b_hh, [w_hr]) as leaf tensors, and the packed batch
    sizes (None unpacked)."""
    P = proj_size if proj else H
    G = rec.GATES[mode]
    sizes = sizes if packed else None
    mk = lambda *shape: md.tensor((rng.standard_normal(shape) * 0.6).astype(dtype), requires_grad=True)  # noqa: E731
    args = {"xw": mk(sum(sizes), G * H) if packed else mk(T, B, G * H), "h0": mk(B, P)}
    if mode == "LSTM":
        args["c0"] = mk(B, H)
    args.update({"w_hh": mk(G * H, P), "b_hh": mk(G * H)})
    if proj:
        args["w_hr"] = mk(P, H)
    return args, sizes


CASES = [("LSTM", False, False, False), ("LSTM", True, False, False), ("LSTM", False, True, True),
         ("LSTM", True, True, False), ("GRU", False, False, False), ("GRU", True, True, False),
         ("RNN_TANH", False, True, False), ("RNN_RELU", True, False, False)]


@pytest.mark.parametrize("mode, reverse, packed, proj", CASES)
def test_column_blocks_match_reference_and_one_thread(split, monkeypatch, mode, reverse, packed, proj):
    rng = np.random.default_rng(0)
    args, sizes = _inputs(rng, packed, proj, mode)
    names, xs = list(args), list(args.values())
    calls = []
    blocks = rec.blocks
    monkeypatch.setattr(rec, "blocks", lambda fn, n: calls.append(n) or blocks(fn, n))

    def fused(*xs):
        return rec.recurrence(mode, **dict(zip(names, xs)), reverse=reverse, batch_sizes=sizes)

    z = fused(*xs)
    v = md.tensor(rng.standard_normal(z.shape))
    g2 = md.autograd.grad([z], xs, [v])
    assert calls == [2, 2]  # forward and backward both ran on two column blocks
    zr = rec.recurrence_reference(mode, **args, reverse=reverse, batch_sizes=sizes)
    np.testing.assert_allclose(z.array, zr.array, rtol=1e-12, atol=1e-12)
    gr = md.autograd.grad([zr], xs, [v])
    for name, a, b in zip(names, g2, gr):
        np.testing.assert_allclose(a.array, b.array, rtol=1e-10, atol=1e-12, err_msg=name)
    parallel.set_num_threads(1)
    z1 = fused(*xs)
    g1 = md.autograd.grad([z1], xs, [v])
    np.testing.assert_array_equal(z.array, z1.array)
    for a, b in zip(g2, g1):
        np.testing.assert_allclose(a.array, b.array, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("loops", [False, True], ids=["steps", "loops"])
@pytest.mark.parametrize("mode, reverse, packed, proj", [c for c in CASES if c[0] in ("LSTM", "GRU")])
def test_compiled_kernels_in_blocks_match_one_block(split, monkeypatch, mode, reverse, packed, proj, loops):
    """float32: the kernels of each block write only their rows; the result equals one block's (BLAS may
    round the row blocks' products differently: 1e-6); with the step loops compiled too (``loops``) and
    with a Python loop over the steps."""
    if rec._fused_kernels(mode, [np.zeros(1, np.float32)]) is None:
        pytest.skip("numba is not installed (or switched off): no compiled kernels")
    monkeypatch.setattr(rec, "LOOPS", loops)
    if loops and not rec._loop_gemm(rec._fused_kernels(mode, [np.zeros(1, np.float32)])):
        pytest.skip("NumPy's BLAS has no cblas_sgemm with 64-bit integers to call from compiled code")
    rng = np.random.default_rng(3)
    args, sizes = _inputs(rng, packed, proj, mode, np.float32)
    names, xs = list(args), list(args.values())
    calls = []
    blocks = rec.blocks
    monkeypatch.setattr(rec, "blocks", lambda fn, n: calls.append(n) or blocks(fn, n))

    def run():
        z = rec.recurrence(mode, **args, reverse=reverse, batch_sizes=sizes)
        assert z._node.fused is not None
        v = md.tensor(np.random.default_rng(4).standard_normal(z.shape).astype(np.float32))
        return [z] + list(md.autograd.grad([z], xs, [v]))

    two = run()
    assert calls == [2, 2]
    parallel.set_num_threads(1)
    one = run()
    assert calls == [2, 2]
    for name, a, b in zip(["Z"] + names, two, one):
        assert a.dtype == np.float32, name
        np.testing.assert_allclose(a.array, b.array, rtol=1e-6, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("mode, packed", [("LSTM", False), ("LSTM", True), ("GRU", True), ("RNN_TANH", False)])
def test_column_blocks_gradcheck(split, mode, packed):
    rng = np.random.default_rng(1)
    args, sizes = _inputs(rng, packed, False, mode)
    names = list(args)
    f = lambda *xs: rec.recurrence(mode, **dict(zip(names, xs)), batch_sizes=sizes)  # noqa: E731
    assert gradcheck(f, list(args.values()))


def test_two_layer_lstm_step_matches_torch_at_two_threads(split):
    torch = pytest.importorskip("torch")
    from mathdl.nn.modules.recurrent import LSTM

    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 8, 5)).astype(np.float32)
    md.manual_seed(0)
    model = LSTM(5, 7, 2)
    tmodel = torch.nn.LSTM(5, 7, 2)
    with torch.no_grad():
        for (_, p), tp in zip(model.named_parameters(), tmodel.parameters()):
            tp.copy_(torch.from_numpy(np.ascontiguousarray(p.array)))
    mx = md.tensor(x, requires_grad=True)
    out, _ = model(mx)
    (out * out).sum().backward()
    tx = torch.tensor(x, requires_grad=True)
    tout, _ = tmodel(tx)
    (tout * tout).sum().backward()
    np.testing.assert_allclose(out.array, tout.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(mx.grad.array, tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    for (_, p), tp in zip(model.named_parameters(), tmodel.parameters()):
        np.testing.assert_allclose(p.grad.array, tp.grad.numpy(), rtol=1e-4, atol=1e-5)
