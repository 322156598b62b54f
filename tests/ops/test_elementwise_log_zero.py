"""log(0) = -inf without a NumPy warning, as PyTorch (the additive-mask idiom torch.log(torch.tril(...)))."""

import warnings

import numpy as np
import pytest

import mathdl

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of this parity test")


def test_log_of_zero_is_minus_inf_silently():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NumPy's "divide by zero encountered in log" would raise here
        ours = mathdl.log(mathdl.tril(mathdl.ones(3, 3))).numpy()
    theirs = torch.log(torch.tril(torch.ones(3, 3))).numpy()
    np.testing.assert_array_equal(ours, theirs)
    assert ours[0, 1] == -np.inf and ours[1, 0] == 0.0


def test_log_of_a_negative_number_still_warns():
    with pytest.warns(RuntimeWarning, match="invalid value"):
        out = mathdl.log(mathdl.tensor([-1.0]))
    assert np.isnan(out.item())
