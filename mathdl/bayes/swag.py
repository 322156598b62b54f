"""SWAG: stochastic weight averaging Gaussian (Maddox, Izmailov, Garipov, Vetrov & Wilson 2019).

Over SGD iterates theta_1..theta_T (collected e.g. once per epoch at a constant or cyclic learning
rate) keep the running first and second moments and the last K deviations:

    theta_SWA = (1/T) Σ_i theta_i,     s = (1/T) Σ_i theta_i^2,     Sigma_diag = s - theta_SWA^2,
    D = [d_{T-K+1}, ..., d_T],          d_i = theta_i - theta_SWA,i  (the running mean after step i).

The posterior is N(theta_SWA, (1/2)(Sigma_diag + D D^T / (K - 1))); a sample is

    theta = theta_SWA + (scale/sqrt 2) Sigma_diag^(1/2) z_1 + (scale/sqrt(2 (K - 1))) D z_2,
    z_1 ~ N(0, I_P), z_2 ~ N(0, I_K).

Batch-norm statistics do not average: after loading a sample, :func:`bn_update` recomputes the
running means and variances with one pass over the training data (cumulative averages).
``predict_proba(x)`` averages the softmax outputs of ``num_samples`` such samples.
"""

from __future__ import annotations

import collections

import numpy as np

__all__ = ["SWAG", "bn_update"]


def _params(model):
    return [p for p in model.parameters() if p.requires_grad]


def bn_update(model, loader):
    """Recompute every batch-norm layer's running statistics with one pass over ``loader``
    (momentum=None: the cumulative average over the batches)."""
    from .. import no_grad
    from ..autograd.tensor import Tensor

    bns = [m for m in model.modules() if "BatchNorm" in type(m).__name__ and getattr(m, "track_running_stats", True)]
    if not bns:
        return model
    saved = [(m, m.momentum) for m in bns]
    flags = [(m, m.training) for m in model.modules()]
    for m in bns:
        m.running_mean.array[...] = 0
        m.running_var.array[...] = 1
        m.momentum = None
        if hasattr(m, "num_batches_tracked"):
            m.num_batches_tracked.array[...] = 0
    model.train()
    try:
        with no_grad():
            for b in loader:
                x = b[0] if isinstance(b, (tuple, list)) else b
                model(x if isinstance(x, Tensor) else Tensor._make(np.asarray(x)))
    finally:
        for m, mom in saved:
            m.momentum = mom
        for m, t in flags:
            m.training = t
    return model


class SWAG:
    """``SWAG(model, max_num_models=20, var_clamp=1e-30)``: ``collect_model(model)`` after each
    SGD epoch; ``sample(scale=1.0)`` loads a sample into the model; ``predict_proba(x)``."""

    def __init__(self, model, max_num_models=20, var_clamp=1e-30):
        if not (isinstance(max_num_models, int) and max_num_models >= 2):
            raise ValueError(f"SWAG: max_num_models (the rank K of D) must be an integer >= 2, got {max_num_models!r}")
        self.model = model
        self.max_num_models = max_num_models
        self.var_clamp = float(var_clamp)
        n = sum(p.array.size for p in _params(model))
        self.mean = np.zeros(n)
        self.sq_mean = np.zeros(n)
        self.deviations = collections.deque(maxlen=max_num_models)
        self.n_models = 0

    def _flat(self, model):
        ps = _params(model)
        if sum(p.array.size for p in ps) != self.mean.size:
            raise ValueError(f"SWAG.collect_model: the model has {sum(p.array.size for p in ps)} parameters, "
                             f"expected {self.mean.size}")
        return np.concatenate([np.asarray(p.numpy(), np.float64).ravel() for p in ps])

    def collect_model(self, model=None):
        """Add the current weights theta_i: update the moments and append d_i = theta_i - theta_SWA,i."""
        theta = self._flat(self.model if model is None else model)
        n = self.n_models
        self.mean = (n * self.mean + theta) / (n + 1)
        self.sq_mean = (n * self.sq_mean + theta * theta) / (n + 1)
        self.deviations.append(theta - self.mean)
        self.n_models = n + 1

    def _need(self, k):
        if self.n_models < k:
            raise RuntimeError(f"SWAG: collect at least {k} models (collect_model) before sampling; "
                               f"have {self.n_models}")

    @property
    def variance(self):
        """Sigma_diag = s - theta_SWA^2 (clamped at ``var_clamp``)."""
        return np.maximum(self.sq_mean - self.mean ** 2, self.var_clamp)

    @property
    def deviation_matrix(self):
        """D: (P, K) with the last K deviations as columns."""
        return np.stack(list(self.deviations), 1) if self.deviations else np.zeros((self.mean.size, 0))

    def covariance(self):
        """(1/2)(Sigma_diag + D D^T / (K - 1)) as a dense matrix (small models only)."""
        self._need(2)
        D = self.deviation_matrix
        return 0.5 * (np.diag(self.variance) + D @ D.T / (D.shape[1] - 1))

    def sample_vector(self, scale=1.0, rng=None, diag_only=False):
        self._need(1 if diag_only else 2)
        rng = np.random.default_rng() if rng is None else rng
        if diag_only:
            return self.mean + scale * np.sqrt(self.variance) * rng.standard_normal(self.mean.size)
        D = self.deviation_matrix
        K = D.shape[1]
        z1 = rng.standard_normal(self.mean.size)
        z2 = rng.standard_normal(K)
        return self.mean + scale / np.sqrt(2) * np.sqrt(self.variance) * z1 + scale / np.sqrt(2 * (K - 1)) * (D @ z2)

    def load(self, theta, model=None):
        model = self.model if model is None else model
        i = 0
        for p in _params(model):
            n = p.array.size
            p.array[...] = theta[i:i + n].reshape(p.shape).astype(p.array.dtype)
            i += n

    def sample(self, scale=1.0, rng=None, diag_only=False, loader=None):
        """Load a SWAG sample into the model (then update batch norm over ``loader`` when given)."""
        self.load(self.sample_vector(scale, rng, diag_only))
        if loader is not None:
            bn_update(self.model, loader)
        return self.model

    def samples(self, x, num_samples=30, scale=1.0, seed=0, loader=None, batch_size=1024):
        from .. import no_grad
        from .mc_dropout import _as_input, _softmax_np

        rng = np.random.default_rng(seed)
        x = _as_input(x)
        backup = self._flat(self.model)
        was = self.model.training
        out = []
        try:
            for _ in range(num_samples):
                self.sample(scale, rng, loader=loader)
                self.model.eval()
                with no_grad():
                    f = np.concatenate([self.model(x[i:i + batch_size]).numpy()
                                        for i in range(0, x.shape[0], batch_size)])
                out.append(_softmax_np(f.astype(np.float64)))
        finally:
            self.load(backup)
            self.model.train(was)
        return np.stack(out)

    def uncertainty(self, x, **kw):
        from .mc_dropout import decompose

        return decompose(self.samples(x, **kw))

    def predict_proba(self, x, num_samples=30, loader=None):
        return self.samples(x, num_samples=num_samples, loader=loader).mean(0)

    def state_dict(self):
        return {"mean": self.mean, "sq_mean": self.sq_mean, "deviations": self.deviation_matrix,
                "n_models": self.n_models, "max_num_models": self.max_num_models}

    def load_state_dict(self, state):
        if np.asarray(state["mean"]).shape != self.mean.shape:
            raise ValueError(f"SWAG.load_state_dict: mean has shape {np.asarray(state['mean']).shape}, "
                             f"expected {self.mean.shape}")
        self.mean = np.asarray(state["mean"], np.float64)
        self.sq_mean = np.asarray(state["sq_mean"], np.float64)
        D = np.asarray(state["deviations"], np.float64)
        self.deviations = collections.deque([D[:, k] for k in range(D.shape[1])], maxlen=self.max_num_models)
        self.n_models = int(state["n_models"])
