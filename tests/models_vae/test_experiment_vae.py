"""A quick run of the VAE studies (perceptual vs MSE; Gumbel-softmax vs REINFORCE)."""

from mathdl.experiments import vae as vx


def test_quick_run(tmp_path):
    res = vx.run(quick=True, seeds=(0,), out=str(tmp_path), log=lambda *a: None)
    assert set(res["verdicts"]) == {"perceptual", "categorical"}
    p = res["perceptual"]
    assert 0 <= p["accuracy_mse"]["mean"] <= 1 and p["pixel_mse_mse"]["mean"] > 0
    assert res["categorical"]["gumbel"]["mean"] < 0 and res["categorical"]["reinforce"]["mean"] < 0
    assert (tmp_path / "perceptual_vs_mse.png").exists() and (tmp_path / "vae_experiments.json").exists()
