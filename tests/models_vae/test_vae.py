"""VAE: the analytic KL equals a Monte-Carlo KL; IWAE_k >= ELBO and grows with k towards the exact
log p(x) (computed by quadrature for a 1-D latent); training lowers the loss; figures get written."""

import numpy as np
import pytest

import mathdl as md
import mathdl.distributions as D
from mathdl.models.vae import VAE, build_vae


@pytest.fixture
def f64():
    md.set_default_dtype("float64")
    yield
    md.set_default_dtype("float32")


def _pixels(n=6, side=4, seed=0):
    return md.tensor((np.random.default_rng(seed).random((n, side * side)) > 0.5).astype(np.float64))


def test_analytic_kl_equals_monte_carlo(f64):
    md.manual_seed(0)
    vae = VAE((16,), latent_dim=3, hidden=(8,))
    px = _pixels()
    q = vae.encode(px)
    prior = vae.prior((px.shape[0],))
    kl = D.kl_divergence(q, prior).numpy()
    z = q.sample((100_000,))
    lr = (q.log_prob(z) - prior.log_prob(z)).numpy()
    se = lr.std(0) / np.sqrt(lr.shape[0])
    assert np.all(np.abs(lr.mean(0) - kl) <= 4 * se + 1e-12)


def _exact_log_px(vae, px):
    """log p(x) = log integral p(x|z) N(z; 0, 1) dz over a fine grid (1-D latent)."""
    z = np.linspace(-8, 8, 4001)
    with md.no_grad():
        lpxz = np.stack([vae.decode(md.tensor(np.full((px.shape[0], 1), zi))).log_prob(px).numpy() for zi in
                         z[::1]], 0)
    lpz = -0.5 * z ** 2 - 0.5 * np.log(2 * np.pi)
    a = lpxz + lpz[:, None]
    m = a.max(0)
    return m + np.log(np.trapezoid(np.exp(a - m), z, axis=0))


def test_iwae_bounds_are_ordered_and_reach_exact_log_likelihood(f64):
    md.manual_seed(1)
    vae = VAE((16,), latent_dim=1, hidden=(8,))
    px = _pixels(4)
    exact = _exact_log_px(vae, px)
    reps = 400
    with md.no_grad():
        est = {k: np.stack([vae.iwae_bound(px, k).numpy() for _ in range(reps)]) for k in (1, 5, 50)}
        elbo = np.stack([vae.elbo(px)[0].numpy() for _ in range(reps)])
    mean = {k: v.mean(0) for k, v in est.items()}
    se = {k: v.std(0) / np.sqrt(reps) for k, v in est.items()}
    assert np.all(np.abs(mean[1] - elbo.mean(0)) <= 4 * np.hypot(se[1], elbo.std(0) / np.sqrt(reps)))
    assert np.all(mean[5] >= mean[1] - 3 * np.hypot(se[1], se[5]))
    assert np.all(mean[50] >= mean[5] - 3 * np.hypot(se[5], se[50]))
    assert np.all(mean[50] > elbo.mean(0))
    assert np.all(mean[50] <= exact + 3 * se[50])
    big = vae.log_likelihood(px, k=20000)
    np.testing.assert_allclose(big, exact, atol=0.02)


def test_beta_scales_the_kl_and_loss_is_negative_elbo(f64):
    md.manual_seed(2)
    vae = VAE((16,), latent_dim=2, hidden=(8,), beta=0.0)
    x = _pixels()
    loss, sums = vae.compute_loss(x)
    assert sums["n"] == 6 and np.isclose(sums["elbo"], sums["rec"] - sums["kl"])
    assert np.isclose(float(loss.item()), -sums["rec"] / 6)  # beta = 0: reconstruction only
    with pytest.raises(ValueError, match="beta"):
        VAE((16,), beta=-1.0)
    with pytest.raises(ValueError, match="likelihood"):
        VAE((16,), likelihood="poisson")


def test_elbo_gradcheck(f64):
    """The ELBO (fixed noise) is differentiable in the data and the weights: gradcheck in float64."""
    vae = VAE((4,), latent_dim=1, hidden=(3,), likelihood="gaussian")
    px = md.tensor(np.random.default_rng(3).random((2, 4)), requires_grad=True)
    assert md.gradcheck(lambda xx: (md.manual_seed(0), vae.elbo(xx)[0])[1], [px])
    w = vae.decoder.net[0].weight

    def elbo_of_weight(wt):
        md.manual_seed(0)
        saved = vae.decoder.net[0].__dict__["_parameters"]["weight"]
        vae.decoder.net[0].__dict__["_parameters"]["weight"] = wt
        try:
            return vae.elbo(px.detach())[0]
        finally:
            vae.decoder.net[0].__dict__["_parameters"]["weight"] = saved

    assert md.gradcheck(elbo_of_weight, [md.tensor(w.numpy(), requires_grad=True)])


@pytest.mark.parametrize("dataset,arch", [("digits", "mlp"), ("digits_image", "conv")])
def test_training_lowers_loss_and_writes_figures(tmp_path, dataset, arch):
    from mathdl.data import load_dataset

    md.manual_seed(0)
    spec = load_dataset(dataset)
    vae = build_vae(spec, latent_dim=2, hidden="64")
    assert vae.arch == arch
    x = md.tensor(np.stack([spec.train[i][0] for i in range(256)]).astype(np.float32))
    opt = md.optim.Adam(vae.parameters(), lr=3e-3)
    first = None
    for step in range(60):
        idx = np.random.default_rng(step).choice(256, 64, replace=False)
        loss, _ = vae.compute_loss(x[md.tensor(idx)])
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = first if first is not None else float(loss.item())
    with md.no_grad():
        final = float(vae.compute_loss(x)[0].item())
    assert final < first - 5
    (tmp_path / "metrics.csv").write_text("epoch,train_loss,test_loss\n1,40.0,41.0\n2,30.0,32.0\n")
    vae.write_figures(str(tmp_path), spec)
    names = {p.name for p in tmp_path.iterdir()}
    assert {"reconstructions.png", "prior_samples.png", "latent_manifold.png", "elbo_curves.png"} <= names
