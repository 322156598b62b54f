"""The device path of mathdl.special on the emulated CuPy module of tests/device: values and
gradients equal the CPU's and stay on the device (the forward values come from the emulated
cupyx.scipy.special, which is how the real device path gets them)."""

from __future__ import annotations

import pytest

from linalg.test_device import check_on_device, install_device
from .special_table import OPS, cases

emulated_cupy = pytest.importorskip("device.emulated_cupy")

CASES, IDS = cases([o for o in OPS if not o.const])


@pytest.mark.parametrize("op,sample", CASES, ids=IDS)
def test_special_on_emulated_device(monkeypatch, op, sample):
    xp = install_device(monkeypatch)
    check_on_device(op, sample, xp, outs_fn=lambda o: [o])
