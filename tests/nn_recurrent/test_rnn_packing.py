"""nn.utils.rnn (pad_sequence, pack_padded_sequence, pad_packed_sequence, pack_sequence) against
PyTorch (skipped without it), and the clear errors of the recurrent layers on bad input."""

import numpy as np
import pytest

import mathdl as md
from mathdl.nn.modules import recurrent as R
from mathdl.nn.utils import rnn as U

def _seqs(lengths, feat=2, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((n, feat)) for n in lengths]


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_sequence_matches_torch(batch_first, side):
    torch = pytest.importorskip("torch")
    arrs = _seqs([3, 1, 4])
    m = U.pad_sequence([md.tensor(a) for a in arrs], batch_first=batch_first, padding_value=-1.0, padding_side=side)
    t = torch.nn.utils.rnn.pad_sequence([torch.tensor(a) for a in arrs], batch_first=batch_first, padding_value=-1.0,
                                        padding_side=side)
    np.testing.assert_array_equal(m.array, t.numpy())


@pytest.mark.parametrize("enforce_sorted,lengths", [(True, [4, 3, 1]), (False, [1, 4, 3])])
@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_and_pad_roundtrip_matches_torch(enforce_sorted, lengths, batch_first):
    torch = pytest.importorskip("torch")
    arrs = _seqs(lengths)
    pm = U.pad_sequence([md.tensor(a, requires_grad=True) for a in arrs], batch_first=batch_first)
    pt = torch.nn.utils.rnn.pad_sequence([torch.tensor(a) for a in arrs], batch_first=batch_first)
    km = U.pack_padded_sequence(pm, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    kt = torch.nn.utils.rnn.pack_padded_sequence(pt, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    np.testing.assert_array_equal(km.data.array, kt.data.numpy())
    np.testing.assert_array_equal(km.batch_sizes.array, kt.batch_sizes.numpy())
    if enforce_sorted:
        assert km.sorted_indices is None and kt.sorted_indices is None
    else:
        np.testing.assert_array_equal(km.sorted_indices.array, kt.sorted_indices.numpy())
        np.testing.assert_array_equal(km.unsorted_indices.array, kt.unsorted_indices.numpy())
    um, lm = U.pad_packed_sequence(km, batch_first=batch_first, padding_value=7.0, total_length=5)
    ut, lt = torch.nn.utils.rnn.pad_packed_sequence(kt, batch_first=batch_first, padding_value=7.0, total_length=5)
    np.testing.assert_array_equal(um.array, ut.numpy())
    np.testing.assert_array_equal(lm.array, lt.numpy())
    # pack_sequence and unpack_sequence give the sequences back in their order
    back = U.unpack_sequence(U.pack_sequence([md.tensor(a) for a in arrs], enforce_sorted=False))
    for a, b in zip(back, arrs):
        np.testing.assert_array_equal(a.array, b)


def test_gradient_flows_through_packing():
    arrs = _seqs([2, 3])
    leaves = [md.tensor(a, requires_grad=True) for a in arrs]
    packed = U.pack_sequence(leaves, enforce_sorted=False)
    (packed.data * packed.data).sum().backward()
    for leaf, a in zip(leaves, arrs):
        np.testing.assert_allclose(leaf.grad.array, 2 * a)


def test_packing_errors():
    x = md.tensor(np.zeros((3, 2, 1)))
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        U.pack_padded_sequence(x, [1, 3])
    with pytest.raises(RuntimeError, match="greater than 0"):
        U.pack_padded_sequence(x, [3, 0])
    with pytest.raises(ValueError, match="3 lengths for a batch of 2"):
        U.pack_padded_sequence(x, [3, 2, 1])
    with pytest.raises(RuntimeError, match="exceeds the 3 time steps"):
        U.pack_padded_sequence(x, [4, 1])
    packed = U.pack_padded_sequence(x, [3, 1])
    with pytest.raises(ValueError, match="total_length=2"):
        U.pad_packed_sequence(packed, total_length=2)
    with pytest.raises(TypeError, match="PackedSequence"):
        U.pad_packed_sequence(x)
    with pytest.raises(ValueError, match="tensor 1 has shape"):
        U.pad_sequence([md.tensor(np.zeros((2, 3))), md.tensor(np.zeros((2, 4)))])


def test_layer_bad_input_errors():
    lstm = R.LSTM(4, 5, num_layers=2)
    with pytest.raises(RuntimeError, match="input_size. Expected 4, got 3"):
        lstm(md.zeros(6, 2, 3))
    with pytest.raises(ValueError, match="Expected input to be 2D or 3D, got 4D"):
        lstm(md.zeros(6, 2, 4, 1))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(2, 2, 5\), got \(1, 2, 5\)"):
        lstm(md.zeros(6, 2, 4), (md.zeros(1, 2, 5), md.zeros(2, 2, 5)))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[1\] size \(2, 2, 5\), got \(2, 3, 5\)"):
        lstm(md.zeros(6, 2, 4), (md.zeros(2, 2, 5), md.zeros(2, 3, 5)))
    with pytest.raises(TypeError, match="tuple"):
        lstm(md.zeros(6, 2, 4), md.zeros(2, 2, 5))
    with pytest.raises(RuntimeError, match="h_0 should be 2-D"):
        lstm(md.zeros(6, 4), (md.zeros(2, 1, 5), md.zeros(2, 1, 5)))
    with pytest.raises(TypeError, match="dtype float64"):
        lstm(md.zeros(6, 2, 4, dtype="float64"))
    gru = R.GRU(4, 5)
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(1, 2, 5\), got \(1, 2, 6\)"):
        gru(md.zeros(6, 2, 4), md.zeros(1, 2, 6))
    with pytest.raises(ValueError, match="empty"):
        gru(md.zeros(0, 2, 4))
    with pytest.raises(TypeError, match="Tensor or a PackedSequence"):
        gru(np.zeros((6, 2, 4)))


def test_constructor_errors():
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        R.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="only supported for LSTM"):
        R.RNNBase("GRU", 3, 4, proj_size=2)
    with pytest.raises(ValueError, match="dropout should be a number in range"):
        R.GRU(3, 4, dropout=1.5)
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        R.RNN(3, 0)
    with pytest.raises(TypeError, match="hidden_size should be of type int"):
        R.RNN(3, 2.5)
    with pytest.raises(ValueError, match="nonlinearity"):
        R.RNN(3, 4, nonlinearity="gelu")
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        R.LSTM(3, 4, dropout=0.2)


def test_cell_bad_input_errors():
    cell = R.LSTMCell(4, 5)
    with pytest.raises(RuntimeError, match="inconsistent input_size: got 3 expected 4"):
        cell(md.zeros(2, 3))
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(2, 5\), got \(2, 6\)"):
        cell(md.zeros(2, 4), (md.zeros(2, 6), md.zeros(2, 5)))
    with pytest.raises(ValueError, match="1D or 2D, got 3D"):
        R.GRUCell(4, 5)(md.zeros(1, 2, 4))
