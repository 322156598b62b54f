"""Deep ensembles (Lakshminarayanan, Pritzel & Blundell 2017).

M networks trained independently from different random initializations (and data orders) on the
same data form a uniformly weighted mixture:

    p(y | x) = (1/M) Σ_m softmax(f_m(x)),

and the spread of the members gives the epistemic part of the uncertainty (the mutual information
of :func:`mathdl.bayes.mc_dropout.decompose`).  The paper's optional adversarial training is left
to the member's training function.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DeepEnsemble", "train_ensemble"]


class DeepEnsemble:
    """``DeepEnsemble(models)``: ``samples(x)`` (M, N, C), ``uncertainty(x)``, ``predict_proba(x)``."""

    def __init__(self, models):
        models = list(models)
        if len(models) < 1:
            raise ValueError("DeepEnsemble: needs at least one model")
        self.models = models

    def __len__(self):
        return len(self.models)

    def samples(self, x, batch_size=1024):
        from .. import no_grad
        from .mc_dropout import _as_input, _softmax_np

        x = _as_input(x)
        out = []
        for m in self.models:
            was = m.training
            m.eval()
            try:
                with no_grad():
                    f = np.concatenate([m(x[i:i + batch_size]).numpy() for i in range(0, x.shape[0], batch_size)])
            finally:
                m.train(was)
            out.append(_softmax_np(f.astype(np.float64)))
        return np.stack(out)

    def uncertainty(self, x):
        from .mc_dropout import decompose

        return decompose(self.samples(x))

    def predict_proba(self, x):
        return self.samples(x).mean(0)


def train_ensemble(make_model, train_fn, num_members=5, seed=0):
    """Build and train ``num_members`` models: member m is ``make_model()`` after
    ``mathdl.manual_seed(seed + m)`` (its own initialization), then ``train_fn(model, seed + m)``
    (its own data order).  Returns a :class:`DeepEnsemble`."""
    from .. import manual_seed

    if not (isinstance(num_members, int) and num_members >= 1):
        raise ValueError(f"train_ensemble: num_members must be a positive integer, got {num_members!r}")
    models = []
    for m in range(num_members):
        manual_seed(seed + m)
        model = make_model()
        train_fn(model, seed + m)
        models.append(model)
    return DeepEnsemble(models)
