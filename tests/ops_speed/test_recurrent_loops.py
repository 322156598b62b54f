"""The compiled step loops of the fused recurrent road (mathdl/ops/recurrent_kernels.py, ``*_loop``): all
time steps of a column block in one compiled call, each step's product a direct call of NumPy's BLAS.

Checked: the BLAS call itself against NumPy (row strides, transposed right factor); the loops against the
Python loop over steps (LOOPS = False) and against the float64 composite reference, for LSTM (with and
without projection) and GRU, forward and reverse, padded and packed, on one block and on two threads'
blocks; that the loops are the road taken; and LSTM / GRU modules on the loops against PyTorch at one and
two threads (forward and every gradient).  float64 inputs never take this road (their gradcheck and
gradgradcheck are in tests/nn_recurrent and test_recurrent_blocks.py)."""

from __future__ import annotations

import numpy as np
import pytest

import mathdl as md
from mathdl import parallel
from mathdl.ops import recurrent as rec

from .test_recurrent_blocks import _inputs as recurrence_inputs

K = rec._fused_kernels("LSTM", [np.zeros(1, np.float32)])
GEMM = K.gemm_address() if K is not None else 0
pytestmark = pytest.mark.skipif(not GEMM, reason="no compiled kernels (numba missing or off) or NumPy's BLAS has "
                                                 "no cblas_sgemm with 64-bit integers")


@pytest.fixture
def threads(monkeypatch):
    """set_num_threads, restored after the test; split loops allowed as if the machine had 4 cores."""
    monkeypatch.setattr(rec, "_core_count", 4)
    old = parallel.get_num_threads()
    yield parallel.set_num_threads
    parallel.set_num_threads(old)


def test_blas_call_matches_numpy_with_row_strides_and_transpose():
    from numba import njit

    @njit
    def mm(g, a, b, c, trans):  # c[1:4] = a[1:4, :5] @ (b[:, :6].T if trans else b[:5, :6])
        k = 5
        n = 6
        K._sgemm(g, trans, 3, n, k, a.ctypes.data + a.strides[0], a.shape[1], b.ctypes.data, b.shape[1],
                 c.ctypes.data + c.strides[0], c.shape[1])

    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 9)).astype(np.float32)
    for trans in (0, 1):
        b = rng.standard_normal((6, 7) if trans else (5, 8)).astype(np.float32)
        c = np.full((4, 10), 7.0, np.float32)
        mm(GEMM, a, b, c, trans)
        want = a[1:4, :5] @ (b[:, :5].T if trans else b[:5, :6])
        np.testing.assert_allclose(c[1:4, :6], want, rtol=1e-6, atol=1e-6)
        assert (c[0] == 7).all() and (c[1:, 6:] == 7).all()  # nothing outside the block written


def _inputs(rng, mode, packed, proj, dtype, T=5, B=6, H=4):
    return recurrence_inputs(rng, packed, proj, mode, dtype, T=T, B=B, H=H, proj_size=3, sizes=(6, 5, 5, 3, 1))


CASES = [("LSTM", False, False, False), ("LSTM", True, False, False), ("LSTM", False, True, False),
         ("LSTM", True, True, True), ("LSTM", False, False, True), ("GRU", False, False, False),
         ("GRU", True, True, False), ("GRU", False, True, False)]


@pytest.mark.parametrize("blocks", [1, 2])
@pytest.mark.parametrize("mode, reverse, packed, proj", CASES)
def test_loops_match_python_steps_and_reference(monkeypatch, threads, mode, reverse, packed, proj, blocks):
    rng = np.random.default_rng(1)
    args, sizes = _inputs(rng, mode, packed, proj, np.float32)
    names, xs = list(args), list(args.values())
    monkeypatch.setattr(rec, "MIN_BLOCK_COLUMNS", 1)
    monkeypatch.setattr(rec, "LOOP_PARALLEL_MIN_MACS", 0 if blocks == 2 else 1 << 62)
    threads(blocks)
    calls = []
    loop = getattr(K, mode.lower() + "_forward_loop")
    monkeypatch.setattr(K, mode.lower() + "_forward_loop", lambda *a: calls.append(a[-3:]) or loop(*a))
    v = np.random.default_rng(2).standard_normal((5, 6, (3 + 4) if proj else (8 if mode == "LSTM" else 4)))

    def run(loops):
        monkeypatch.setattr(rec, "LOOPS", loops)
        z = rec.recurrence(mode, **args, reverse=reverse, batch_sizes=sizes)
        return [z] + list(md.autograd.grad([z], xs, [md.tensor(v.astype(np.float32))]))

    with_loops = run(True)
    assert len(calls) == blocks  # the loops ran, one call per column block
    steps = run(False)
    assert len(calls) == blocks
    a64 = {k: md.tensor(t.array.astype(np.float64), requires_grad=True) for k, t in args.items()}
    zr = rec.recurrence_reference(mode, **a64, reverse=reverse, batch_sizes=sizes)
    ref = [zr] + list(md.autograd.grad([zr], list(a64.values()), [md.tensor(v)]))
    for name, a, b, r in zip(["Z"] + names, with_loops, steps, ref):
        assert a.dtype == np.float32, name
        np.testing.assert_allclose(a.array, b.array, rtol=1e-6, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(a.array, r.array, rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("kind", ["lstm", "lstm-bi-packed", "lstm-bi-proj-packed", "gru-bi"])
def test_modules_on_the_loops_match_torch(threads, monkeypatch, kind, n_threads):
    """At two threads the layers without projection run split over their units (hidden 64: units 0:32 and
    32:64), the LSTM with projections in one block with BLAS's two threads."""
    torch = pytest.importorskip("torch")
    from mathdl.nn.modules.recurrent import GRU, LSTM
    from mathdl.nn.utils.rnn import pack_padded_sequence

    monkeypatch.setattr(rec, "LOOP_PARALLEL_MIN_MACS", 0)
    threads(n_threads)
    torch.set_num_threads(n_threads)
    kw = {"num_layers": 2, "batch_first": True}
    if kind != "lstm":
        kw["bidirectional"] = True
    if kind == "lstm-bi-proj-packed":
        kw["proj_size"] = 5
    packed = kind.endswith("packed")
    cls, tcls = (GRU, torch.nn.GRU) if kind.startswith("gru") else (LSTM, torch.nn.LSTM)
    monkeypatch.setattr(rec, "SPLIT_MIN_MACS", 0)
    monkeypatch.setattr(rec, "SPLIT_MODES", ("LSTM", "GRU"))
    md.manual_seed(0)
    model = cls(6, 64, **kw)
    tmodel = tcls(6, 64, **kw)
    with torch.no_grad():
        for (_, p), tp in zip(model.named_parameters(), tmodel.parameters()):
            tp.copy_(torch.from_numpy(np.ascontiguousarray(p.array)))
    x = np.random.default_rng(3).standard_normal((16, 7, 6)).astype(np.float32)
    lengths = [7, 7, 6, 6, 5, 5, 4, 4, 4, 3, 3, 2, 2, 1, 1, 1]
    mx, tx = md.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    if packed:
        out, _ = model(pack_padded_sequence(mx, lengths, batch_first=True))
        tout, _ = tmodel(torch.nn.utils.rnn.pack_padded_sequence(tx, lengths, batch_first=True))
        out, tout = out.data, tout.data
    else:
        out, _ = model(mx)
        tout, _ = tmodel(tx)
    (out * out).sum().backward()
    (tout * tout).sum().backward()
    torch.set_num_threads(1)
    np.testing.assert_allclose(out.array, tout.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(mx.grad.array, tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    for (name, p), tp in zip(model.named_parameters(), tmodel.parameters()):
        np.testing.assert_allclose(p.grad.array, tp.grad.numpy(), rtol=1e-4, atol=2e-5, err_msg=name)


def test_lstm_step_equal_at_one_and_two_threads(threads, monkeypatch):
    """The benchmark's shape class: a 2-layer LSTM training step at two threads (each layer split over its
    hidden units) equals the step at one thread up to float rounding."""
    from mathdl.nn.modules.recurrent import LSTM

    monkeypatch.setattr(rec, "SPLIT_MIN_MACS", 0)
    x = np.random.default_rng(4).standard_normal((32, 6, 8)).astype(np.float32)
    results = []
    for n in (1, 2):
        threads(n)
        md.manual_seed(0)
        model = LSTM(8, 64, 2, batch_first=True)
        out, _ = model(md.tensor(x))
        (out[:, -1] ** 2).sum().backward()
        results.append([out.array] + [p.grad.array for p in model.parameters()])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def _lstm_case(rng, packed, H, T=6, B=7, mode="LSTM"):
    sizes = (7, 7, 5, 4, 2, 1) if packed else None
    G = rec.GATES[mode]
    mk = lambda *shape: md.tensor((rng.standard_normal(shape) * 0.5).astype(np.float32), requires_grad=True)  # noqa: E731
    args = {"xw": mk(sum(sizes), G * H) if packed else mk(T, B, G * H), "h0": mk(B, H)}
    if mode == "LSTM":
        args["c0"] = mk(B, H)
    args.update({"w_hh": mk(G * H, H), "b_hh": mk(G * H)})
    return args, sizes


@pytest.mark.parametrize("n_threads, H", [(2, 64), (2, 80), (3, 96)])
@pytest.mark.parametrize("reverse, packed", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_split_over_units_matches_one_thread_and_reference(threads, monkeypatch, mode, n_threads, H, reverse,
                                                           packed):
    """The LSTM and GRU loops split over hidden units (2 or 3 parts, even and uneven cuts) equal the unsplit loop
    on one thread and the float64 reference; every part ran, forward and backward (the GRU's split loops are
    off by default: switched on here)."""
    monkeypatch.setattr(rec, "SPLIT_MIN_MACS", 0)
    monkeypatch.setattr(rec, "SPLIT_MODES", ("LSTM", "GRU"))
    monkeypatch.setattr(rec, "_core_count", n_threads)  # (3 parts on a 2-core machine: slow, still correct)
    calls = []
    names = [mode.lower() + "_forward_split", mode.lower() + "_backward_split"]

    def counted(name):
        fn = getattr(K, name)
        return lambda *a: calls.append((name, a[3])) or fn(*a)

    for name in names:
        monkeypatch.setattr(K, name, counted(name))
    args, sizes = _lstm_case(np.random.default_rng(5), packed, H, mode=mode)
    xs = list(args.values())
    v = np.random.default_rng(6).standard_normal((6, 7, (2 if mode == "LSTM" else 1) * H))
    runs = []
    for n in (n_threads, 1):
        threads(n)
        z = rec.recurrence(mode, **args, reverse=reverse, batch_sizes=sizes)
        runs.append([z] + list(md.autograd.grad([z], xs, [md.tensor(v.astype(np.float32))])))
    assert sorted(set(calls)) == sorted({(nm, p) for nm in names for p in range(n_threads)})
    a64 = {k: md.tensor(t.array.astype(np.float64), requires_grad=True) for k, t in args.items()}
    zr = rec.recurrence_reference(mode, **a64, reverse=reverse, batch_sizes=sizes)
    ref = [zr] + list(md.autograd.grad([zr], list(a64.values()), [md.tensor(v)]))
    for name, a, b, r in zip(["Z"] + list(args), *runs, ref):
        np.testing.assert_allclose(a.array, b.array, rtol=1e-5, atol=1e-5, err_msg=name)  # sums in another order
        np.testing.assert_allclose(a.array, r.array, rtol=1e-4, atol=3e-6 * np.abs(r.array).max(), err_msg=name)


def test_split_cuts(monkeypatch):
    monkeypatch.setattr(rec, "_core_count", 8)
    old = parallel.get_num_threads()
    try:
        parallel.set_num_threads(2)
        assert rec._split_cuts(128, 1 << 30) == [0, 64, 128]
        assert rec._split_cuts(80, 1 << 30) == [0, 48, 80]
        assert rec._split_cuts(63, 1 << 30) is None  # under 32 units a part
        assert rec._split_cuts(128, 1) is None  # too little work
        parallel.set_num_threads(3)
        assert rec._split_cuts(96, 1 << 30) == [0, 32, 64, 96]
        assert rec._split_cuts(64, 1 << 30) == [0, 32, 64]  # at most H / 32 parts
        parallel.set_num_threads(1)
        assert rec._split_cuts(128, 1 << 30) is None
        parallel.set_num_threads(4)
        monkeypatch.setattr(rec, "_core_count", 2)
        assert rec._split_cuts(128, 1 << 30) == [0, 64, 128]  # no more parts than cores
    finally:
        parallel.set_num_threads(old)


def test_split_part_failure_releases_the_others(threads, monkeypatch):
    """A part that fails raises in the caller; the parts waiting for it at a barrier return (no hang), and the
    next call works."""
    monkeypatch.setattr(rec, "SPLIT_MIN_MACS", 0)
    threads(2)
    args, _ = _lstm_case(np.random.default_rng(7), False, 64)
    real = K.lstm_forward_split

    def failing(*a):
        if a[3] == 1:
            raise RuntimeError("part 1 failed")
        return real(*a)

    monkeypatch.setattr(K, "lstm_forward_split", failing)
    with pytest.raises(RuntimeError, match="part 1 failed"):
        rec.recurrence("LSTM", **args)
    monkeypatch.setattr(K, "lstm_forward_split", real)
    z = rec.recurrence("LSTM", **args)
    threads(1)
    np.testing.assert_allclose(z.array, rec.recurrence("LSTM", **args).array, rtol=1e-6, atol=1e-6)


def test_split_team_busy_falls_back_to_one_loop(threads, monkeypatch):
    """While another thread's split loop holds the team, a recurrence runs unsplit (same result)."""
    monkeypatch.setattr(rec, "SPLIT_MIN_MACS", 0)
    threads(2)
    args, _ = _lstm_case(np.random.default_rng(8), False, 64)
    z = rec.recurrence("LSTM", **args)
    calls = []
    monkeypatch.setattr(K, "lstm_forward_split", lambda *a: calls.append(a))
    with rec._team_lock:
        busy = rec.recurrence("LSTM", **args)
    assert calls == []
    np.testing.assert_allclose(busy.array, z.array, rtol=1e-6, atol=1e-6)


def _split_in_child(queue):
    args, _ = _lstm_case(np.random.default_rng(9), False, 64)
    queue.put(rec.recurrence("LSTM", **args).array)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_split_in_a_forked_child(threads, monkeypatch):
    """A process forked after a split loop ran (a data-loader worker) makes its own helper threads instead of
    waiting forever for its parent's."""
    import multiprocessing as mp

    monkeypatch.setattr(rec, "SPLIT_MIN_MACS", 0)
    threads(2)
    args, _ = _lstm_case(np.random.default_rng(9), False, 64)
    z = rec.recurrence("LSTM", **args)  # the parent's team exists now
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    child = ctx.Process(target=_split_in_child, args=(q,))
    child.start()
    child.join(60)
    alive = child.is_alive()
    if alive:
        child.kill()
    assert not alive and child.exitcode == 0
    np.testing.assert_allclose(q.get(timeout=5), z.array, rtol=1e-6, atol=1e-6)


def test_gru_not_split_by_default(threads, monkeypatch):
    monkeypatch.setattr(rec, "SPLIT_MIN_MACS", 0)
    threads(2)
    calls = []
    monkeypatch.setattr(K, "gru_forward_split", lambda *a: calls.append(a))
    args, _ = _lstm_case(np.random.default_rng(10), False, 64, mode="GRU")
    z = rec.recurrence("GRU", **args)
    assert calls == [] and np.isfinite(z.array).all()
