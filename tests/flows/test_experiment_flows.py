"""The flows experiment: the energies' normalizers, and a quick run of every part."""

import math

import numpy as np

import mathdl as md
from mathdl.experiments import flows as fx


def test_energy_normalizer_of_a_gaussian_form():
    # U2 = (z2 - w1(z1))^2 / (2 0.4^2): integrating z2 gives 0.4 sqrt(2 pi) for every z1, over z1 in [-5, 5]
    assert abs(fx.log_partition("U2") - math.log(10 * 0.4 * math.sqrt(2 * math.pi))) < 0.01
    z = md.tensor(np.zeros((1, 2)))
    assert all(np.isfinite(fx.energy(u, z).numpy()).all() for u in fx.U_FUNCTIONS)


def test_quick_run(tmp_path):
    res = fx.run(quick=True, seeds=(0,), out=str(tmp_path), log=lambda *a: None)
    assert set(res["verdicts"]) == {"energy", "density", "flow_vae"}
    assert all(v["mean"] > -0.05 for v in res["energy_kl"].values())  # U1's KL is >= 0 (up to Monte-Carlo error)
    assert set(res["energy_free_energy"]) == {"U1 K=2", "U1 K=8"}
    assert (tmp_path / "flows.json").exists() and (tmp_path / "flows_energies.png").exists()
