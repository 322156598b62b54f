"""RNN / LSTM / GRU layers and cells against PyTorch: outputs, final states and every gradient
(parameters, input, initial states) for the option combinations, weights copied both ways."""

import itertools

import numpy as np
import pytest

import mathdl as md
from mathdl.nn.modules import recurrent as R
from mathdl.nn.utils import rnn as U

torch = pytest.importorskip("torch")

T, B, I, H, P = 4, 3, 5, 6, 3
LENGTHS_SORTED = [4, 3, 2]
LENGTHS_UNSORTED = [2, 4, 3]


def _pair(cls, kwargs, to_torch=False, seed=0):
    """(mathdl layer, torch layer) in float64 with equal weights (copied torch -> mathdl, or back)."""
    torch.manual_seed(seed)
    tm = getattr(torch.nn, cls)(**kwargs).double()
    md.manual_seed(seed)
    mm = getattr(R, cls)(**kwargs, dtype="float64")
    if to_torch:
        tm.load_state_dict({k: torch.tensor(np.asarray(v.array)) for k, v in mm.state_dict().items()})
    else:
        mm.load_state_dict({k: md.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    assert list(mm.state_dict()) == list(tm.state_dict())
    return mm, tm


def _close(a, b, what, tol=1e-10):
    a = np.asarray(a.array if isinstance(a, md.Tensor) else a)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != {b.shape}"
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=what)


def _run_both(cls, kwargs, packed=None, init_states=False, unbatched=False, to_torch=False, train=True):
    mm, tm = _pair(cls, kwargs, to_torch)
    mm.train(train)
    tm.train(train)
    rng = np.random.default_rng(1)
    bf = kwargs.get("batch_first", False)
    shape = (T, I) if unbatched else ((B, T, I) if bf else (T, B, I))
    x = rng.standard_normal(shape)
    D = 2 if kwargs.get("bidirectional") else 1
    L = kwargs.get("num_layers", 1)
    h_out = kwargs.get("proj_size", 0) or H
    hshape = (D * L, h_out) if unbatched else (D * L, B, h_out)
    cshape = (D * L, H) if unbatched else (D * L, B, H)
    xm, xt = md.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    hx_m = hx_t = None
    leaves_m, leaves_t = [xm], [xt]
    if init_states:
        h0 = rng.standard_normal(hshape)
        hm, ht = md.tensor(h0, requires_grad=True), torch.tensor(h0, requires_grad=True)
        leaves_m.append(hm)
        leaves_t.append(ht)
        hx_m, hx_t = hm, ht
        if cls == "LSTM":
            c0 = rng.standard_normal(cshape)
            cm, ct = md.tensor(c0, requires_grad=True), torch.tensor(c0, requires_grad=True)
            leaves_m.append(cm)
            leaves_t.append(ct)
            hx_m, hx_t = (hm, cm), (ht, ct)
    in_m, in_t = xm, xt
    if packed is not None:
        in_m = U.pack_padded_sequence(xm, packed, batch_first=bf, enforce_sorted=packed == LENGTHS_SORTED)
        in_t = torch.nn.utils.rnn.pack_padded_sequence(xt, packed, batch_first=bf,
                                                       enforce_sorted=packed == LENGTHS_SORTED)
    out_m, st_m = mm(in_m, hx_m)
    out_t, st_t = tm(in_t, hx_t)
    if packed is not None:
        _close(out_m.batch_sizes, out_t.batch_sizes.numpy(), "batch_sizes", 0)
        out_m, out_t = out_m.data, out_t.data
    sts_m = list(st_m) if cls == "LSTM" else [st_m]
    sts_t = list(st_t) if cls == "LSTM" else [st_t]
    _close(out_m, out_t, "output")
    for a, b in zip(sts_m, sts_t):
        _close(a, b, "final state")
    # a loss touching the output and every final state
    loss_m, loss_t = 0, 0
    for a, b in zip([out_m] + sts_m, [out_t] + sts_t):
        w = rng.standard_normal(tuple(b.shape))
        loss_m = (a * md.tensor(w)).sum() + loss_m
        loss_t = (b * torch.tensor(w)).sum() + loss_t
    loss_m.backward()
    loss_t.backward()
    for (name, p), (tname, tp) in zip(mm.named_parameters(), tm.named_parameters()):
        assert name == tname
        _close(p.grad, tp.grad, f"grad of {name}")
    for k, (a, b) in enumerate(zip(leaves_m, leaves_t)):
        _close(a.grad, b.grad, f"grad of input/initial state {k}")
    return mm, tm


MODES = [("RNN", {}), ("RNN", {"nonlinearity": "relu"}), ("GRU", {}), ("LSTM", {}), ("LSTM", {"proj_size": P})]
COMBOS = list(itertools.product([False, True], [1, 2], [None, "sorted", "unsorted"], [False, True]))


@pytest.mark.parametrize("cls,extra", MODES, ids=["rnn_tanh", "rnn_relu", "gru", "lstm", "lstm_proj"])
def test_layer_matches_torch_for_every_option(cls, extra):
    """bidirectional x num_layers x packing x initial states, with batch_first and bias alternating."""
    for k, (bidir, layers, packed, init_states) in enumerate(COMBOS):
        kwargs = dict(input_size=I, hidden_size=H, num_layers=layers, bidirectional=bidir,
                      batch_first=bool(k % 2), bias=(k % 3 != 2), **extra)
        lengths = {None: None, "sorted": LENGTHS_SORTED, "unsorted": LENGTHS_UNSORTED}[packed]
        try:
            _run_both(cls, kwargs, lengths, init_states)
        except AssertionError as e:
            raise AssertionError(f"{cls} {kwargs} packed={packed} init_states={init_states}: {e}") from None


@pytest.mark.parametrize("cls", ["RNN", "GRU", "LSTM"])
def test_unbatched_input_and_weights_copied_to_torch(cls):
    extra = {"proj_size": 2} if cls == "LSTM" else {}
    _run_both(cls, dict(input_size=I, hidden_size=H, num_layers=2, bidirectional=True, **extra), unbatched=True,
              init_states=True, to_torch=True)


def test_dropout_between_layers():
    kwargs = dict(input_size=I, hidden_size=H, num_layers=2, dropout=1.0)
    # p = 1 zeroes the first layer's output in training mode (deterministic, so torch must agree) ...
    mm, _ = _run_both("LSTM", kwargs, train=True)
    # ... and evaluation mode ignores dropout
    _run_both("GRU", dict(kwargs, dropout=0.5), train=False)
    x = md.tensor(np.random.default_rng(0).standard_normal((T, B, I)))
    mm.eval()
    a = mm(x)[0].array
    mm.train()
    assert not np.allclose(a, mm(x)[0].array)


def test_float32_matches_torch():
    torch.manual_seed(0)
    tm = torch.nn.LSTM(I, H, 2, bidirectional=True)
    mm = R.LSTM(I, H, 2, bidirectional=True)
    mm.load_state_dict({k: md.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((T, B, I)).astype(np.float32)
    out_m, (h_m, c_m) = mm(md.tensor(x))
    out_t, (h_t, c_t) = tm(torch.tensor(x))
    assert out_m.dtype == np.float32 and h_m.dtype == np.float32
    _close(out_m, out_t, "output", 1e-5)
    _close(c_m, c_t, "c_n", 1e-5)


@pytest.mark.parametrize("cls", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_match_torch(cls):
    for bias, batched, given in itertools.product([True, False], [True, False], [True, False]):
        mm, tm = _pair(cls, dict(input_size=I, hidden_size=H, bias=bias))
        rng = np.random.default_rng(0)
        lead = (B,) if batched else ()
        x = rng.standard_normal(lead + (I,))
        xm, xt = md.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        leaves = [(xm, xt)]
        hx_m = hx_t = None
        if given:
            pairs = [(md.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True))
                     for a in (rng.standard_normal(lead + (H,)) for _ in range(2 if cls == "LSTMCell" else 1))]
            leaves += pairs
            hx_m = tuple(p[0] for p in pairs) if cls == "LSTMCell" else pairs[0][0]
            hx_t = tuple(p[1] for p in pairs) if cls == "LSTMCell" else pairs[0][1]
        om, ot = mm(xm, hx_m), tm(xt, hx_t)
        om = list(om) if cls == "LSTMCell" else [om]
        ot = list(ot) if cls == "LSTMCell" else [ot]
        lm = lt = 0
        for a, b in zip(om, ot):
            _close(a, b, f"{cls} output")
            w = rng.standard_normal(tuple(b.shape))
            lm = (a * md.tensor(w)).sum() + lm
            lt = (b * torch.tensor(w)).sum() + lt
        lm.backward()
        lt.backward()
        for (name, p), (_, tp) in zip(mm.named_parameters(), tm.named_parameters()):
            _close(p.grad, tp.grad, f"{cls} grad of {name}")
        for a, b in leaves:
            _close(a.grad, b.grad, f"{cls} input/state grad")


def test_rnn_cell_relu_matches_torch():
    mm, tm = _pair("RNNCell", dict(input_size=I, hidden_size=H, nonlinearity="relu"))
    x = np.random.default_rng(3).standard_normal((B, I))
    _close(mm(md.tensor(x)), tm(torch.tensor(x)), "relu cell")


def test_parameter_names_shapes_and_init_bounds():
    mm = R.LSTM(I, H, num_layers=2, bidirectional=True, proj_size=P)
    tm = torch.nn.LSTM(I, H, num_layers=2, bidirectional=True, proj_size=P)
    assert [(n, tuple(p.shape)) for n, p in mm.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in tm.named_parameters()]
    bound = 1 / np.sqrt(H)
    for p in mm.parameters():
        assert np.abs(p.array).max() <= bound and np.abs(p.array).max() > 0.5 * bound
    assert repr(mm).startswith("LSTM(5, 6, proj_size=3, num_layers=2, bidirectional=True)")
    assert len(mm.all_weights) == 4 and len(mm.all_weights[0]) == 5
