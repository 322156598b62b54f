"""Recurrent layers on the device path (emulated CuPy in CI, real CuPy with MATHDL_TEST_CUPY=1):
the same outputs and gradients as on the CPU, including packed sequences, and nothing leaves the
device."""

import copy

import numpy as np
import pytest

import mathdl as md
from mathdl.nn.modules import recurrent as R
from mathdl.nn.utils import rnn as U

from device.test_device_path import _host, device  # noqa: F401,E402  (fixture)


@pytest.mark.parametrize("make,packed", [
    (lambda: R.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2), False),
    (lambda: R.GRU(3, 4, bidirectional=True, batch_first=True), True),
    (lambda: R.RNN(3, 4, nonlinearity="relu"), True),
])
def test_recurrent_layer_on_device_equals_cpu(device, make, packed):  # noqa: F811
    md.manual_seed(0)
    cpu = make().double()
    dev = copy.deepcopy(cpu).to("cuda")
    x = np.random.default_rng(0).standard_normal((3, 5, 3) if getattr(cpu, "batch_first", False) else (5, 3, 3))
    results = []
    for model, xx in ((cpu, md.tensor(x)), (dev, md.tensor(x).to("cuda"))):
        inp = U.pack_padded_sequence(xx, [5, 2, 4], batch_first=model.batch_first, enforce_sorted=False) \
            if packed else xx
        out, state = model(inp)
        out = out.data if packed else out
        h = state[0] if isinstance(state, tuple) else state
        loss = (out * out).sum() + h.sum()
        results.append((out, h, md.autograd.grad(loss, list(model.parameters()))))
    (oc, hc, gc), (od, hd, gd) = results
    assert od.device == "cuda" and hd.device == "cuda"
    np.testing.assert_allclose(_host(od), _host(oc), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_host(hd), _host(hc), rtol=1e-10, atol=1e-12)
    for a, b in zip(gd, gc):
        assert a.device == "cuda"
        np.testing.assert_allclose(_host(a), _host(b), rtol=1e-9, atol=1e-12)
