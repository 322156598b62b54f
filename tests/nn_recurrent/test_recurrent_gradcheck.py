"""First and second derivatives (float64 gradcheck / gradgradcheck) of the fused recurrence, the
cells and the layers, and the fused forward/backward against the composite reference."""

import numpy as np
import pytest

import mathdl as md
from mathdl.autograd import gradcheck, gradgradcheck
from mathdl.nn.modules import recurrent as R
from mathdl.nn.utils import rnn as U
from mathdl.ops.recurrent import GATES, put_rows, recurrence, recurrence_reference, take_rows

T, B, H = 3, 2, 3


def _leaf(rng, *shape, scale=0.6):
    return md.tensor(rng.standard_normal(shape) * scale, requires_grad=True)


def _inputs(mode, rng, packed, proj):
    G = GATES[mode]
    P = 2 if proj else H
    sizes = (2, 2, 1) if packed else None
    xw = _leaf(rng, sum(sizes), G * H) if packed else _leaf(rng, T, B, G * H)
    args = {"xw": xw, "h0": _leaf(rng, B, P), "w_hh": _leaf(rng, G * H, P), "b_hh": _leaf(rng, G * H)}
    if mode == "LSTM":
        args["c0"] = _leaf(rng, B, H)
    if proj:
        args["w_hr"] = _leaf(rng, P, H)
    return args, sizes


CASES = [("RNN_TANH", False, False, False), ("RNN_RELU", True, True, False), ("GRU", False, True, False),
         ("GRU", True, False, False), ("LSTM", False, False, False), ("LSTM", True, True, True)]


@pytest.mark.parametrize("mode,reverse,packed,proj", CASES)
def test_fused_recurrence_matches_reference_and_gradchecks(mode, reverse, packed, proj):
    rng = np.random.default_rng(0)
    args, sizes = _inputs(mode, rng, packed, proj)
    names = list(args)

    def fused(*xs):
        return recurrence(mode, **dict(zip(names, xs)), reverse=reverse, batch_sizes=sizes)

    def reference(*xs):
        return recurrence_reference(mode, **dict(zip(names, xs)), reverse=reverse, batch_sizes=sizes)

    xs = list(args.values())
    zf, zr = fused(*xs), reference(*xs)
    np.testing.assert_allclose(zf.array, zr.array, rtol=1e-12, atol=1e-12)
    v = md.tensor(rng.standard_normal(zf.shape))
    gf = md.autograd.grad([zf], xs, [v])
    gr = md.autograd.grad([zr], xs, [v])
    for name, a, b in zip(names, gf, gr):
        np.testing.assert_allclose(a.array, b.array, rtol=1e-10, atol=1e-12, err_msg=name)
    assert gradcheck(fused, xs)
    assert gradgradcheck(fused, xs)


def test_relu_rnn_gradient_is_zero_where_inactive():
    # a large negative input drives every unit to zero: relu passes no gradient back
    xw = md.tensor(-10 * np.ones((T, B, H)), requires_grad=True)
    h0 = md.tensor(np.zeros((B, H)), requires_grad=True)
    w = md.tensor(np.eye(H), requires_grad=True)
    z = recurrence("RNN_RELU", xw, h0, w)
    z.sum().backward()
    assert np.all(z.array == 0) and np.all(xw.grad.array == 0)


@pytest.mark.parametrize("cls", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_gradcheck(cls):
    md.manual_seed(0)
    cell = getattr(R, cls)(2, H, dtype="float64")
    rng = np.random.default_rng(1)
    x, h = _leaf(rng, B, 2), _leaf(rng, B, H)
    params = list(cell.parameters())
    if cls == "LSTMCell":
        c = _leaf(rng, B, H)

        def f(x, h, c, *ws):
            return cell(x, (h, c))[1]  # the cell state depends on every input
        xs = [x, h, c] + params
    else:
        def f(x, h, *ws):
            return cell(x, h)
        xs = [x, h] + params
    assert gradcheck(f, xs)
    assert gradgradcheck(f, xs)


def test_layer_gradgradcheck_through_steps():
    """A bidirectional 2-layer LSTM with projections, input and initial state: second derivatives."""
    md.manual_seed(0)
    lstm = R.LSTM(2, 3, num_layers=2, bidirectional=True, proj_size=2, dtype="float64")
    rng = np.random.default_rng(2)
    x = _leaf(rng, 3, 1, 2)
    h0, c0 = _leaf(rng, 4, 1, 2), _leaf(rng, 4, 1, 3)

    def f(x, h0, c0):
        out, (h, c) = lstm(x, (h0, c0))
        return out.sum() + (h * h).sum() + c.sum()

    assert gradcheck(f, [x, h0, c0])
    assert gradgradcheck(f, [x, h0, c0])


def test_packed_gru_layer_gradcheck():
    md.manual_seed(0)
    gru = R.GRU(2, 2, bidirectional=True, dtype="float64")
    rng = np.random.default_rng(3)
    x = _leaf(rng, 3, 3, 2)

    def f(x):
        packed = U.pack_padded_sequence(x, [2, 3, 1], enforce_sorted=False)
        out, h = gru(packed)
        padded, _ = U.pad_packed_sequence(out)
        return padded.sum() + h.sum()

    assert gradcheck(f, [x])
    assert gradgradcheck(f, [x])


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_layer_gradgradcheck(nonlinearity):
    md.manual_seed(1)
    rnn = R.RNN(2, 3, num_layers=2, nonlinearity=nonlinearity, batch_first=True, dtype="float64")
    rng = np.random.default_rng(5)
    x, h0 = _leaf(rng, 2, 3, 2), _leaf(rng, 2, 2, 3)

    def f(x, h0):
        out, h = rnn(x, h0)
        return (out * out).sum() + h.sum()

    assert gradcheck(f, [x, h0])
    assert gradgradcheck(f, [x, h0])


def test_row_gather_and_scatter_are_adjoint_and_differentiable():
    rng = np.random.default_rng(4)
    x = _leaf(rng, 5, 2)
    idx = np.array([3, 0, 4])
    assert gradcheck(lambda x: take_rows(x, idx), [x])
    assert gradgradcheck(lambda x: put_rows(x, idx, 6, 0.5)[1:], [x[:3]])
    y = put_rows(take_rows(x, idx), idx, 5, -1.0)
    np.testing.assert_array_equal(y.array[idx], x.array[idx])
    assert np.all(y.array[[1, 2]] == -1.0)
