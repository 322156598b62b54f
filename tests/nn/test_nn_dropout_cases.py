"""Dropout layers: PyTorch's reprs and its dropout2d cases for 2-D and 3-D input (with its warnings)."""

import numpy as np
import pytest

import mathdl
from mathdl import nn

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of this parity test")


@pytest.mark.parametrize("name", ["Dropout", "AlphaDropout", "Dropout1d", "Dropout2d", "Dropout3d",
                                  "FeatureAlphaDropout"])
def test_reprs_as_pytorch(name):
    assert repr(getattr(nn, name)(0.3)) == repr(getattr(torch.nn, name)(0.3))
    assert repr(getattr(nn, name)(0.3, inplace=True)) == repr(getattr(torch.nn, name)(0.3, inplace=True))


def test_dropout2d_on_2d_input_warns_and_drops_elementwise():
    # pytorch/examples mnist_rnn: self.dropout1 = nn.Dropout2d(0.25) applied to the LSTM's (N, 64) output
    mathdl.manual_seed(0)
    with pytest.warns(UserWarning, match="Received a 2-D input to dropout2d"):
        y = nn.Dropout2d(0.25)(mathdl.ones(400, 50)).numpy()
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.75)}
    assert abs((y == 0).mean() - 0.25) < 0.01  # 20000 draws: 5 sigma = 0.015
    assert 0 < (y == 0).mean(axis=0).min() and (y == 0).mean(axis=0).max() < 1  # no whole column dropped
    with pytest.warns(UserWarning, match="2-D input"):
        assert nn.Dropout2d(0.25).eval()(mathdl.ones(3, 4)).numpy().tolist() == [[1.0] * 4] * 3


def test_dropout2d_on_3d_input_is_channelwise_1d_with_pytorchs_warning():
    mathdl.manual_seed(0)
    with pytest.warns(UserWarning, match="Received a 3D input to dropout2d"):
        y = mathdl.nn.functional.dropout2d(mathdl.ones(8, 16, 5), 0.5).numpy()
    assert np.all((y == 0).all(-1) | (y != 0).all(-1))  # each (n, c) row kept or dropped whole


def test_dropout2d_bad_input():
    with pytest.raises(ValueError, match="p must be in"):
        mathdl.nn.functional.dropout2d(mathdl.ones(2, 3, 4, 4), 1.5)
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="at least a 2-D input"):
        mathdl.nn.functional.dropout2d(mathdl.ones(5), 0.5)
