"""Small models and data shared by the analysis tests."""

import numpy as np
import pytest


@pytest.fixture
def tiny_mlp():
    """(model, (x, y)): a float64 4-12-3 tanh MLP (99 parameters) on 40 random examples."""
    import mathdl
    from mathdl import nn

    mathdl.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 12), nn.Tanh(), nn.Linear(12, 3)).double()
    rng = np.random.default_rng(0)
    x = mathdl.tensor(rng.standard_normal((40, 4)))
    y = mathdl.tensor(rng.integers(0, 3, 40))
    return model, (x, y)
