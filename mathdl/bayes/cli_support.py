"""What ``mathdl train --bayes METHOD`` and ``mathdl evaluate --uncertainty`` call.

``bayesian_training(method, model, cfg, spec)`` turns a built model into a :class:`BayesianTraining`
for METHOD in {mc-dropout, bbb, laplace, ensemble, swag}; the generic trainer then uses

* ``.model`` — the module to optimize and checkpoint.  It has ``compute_loss(x, y) -> (loss, sums)``
  (sums = {"n", "correct", "count"}, the trainer's format), which the trainer already prefers over
  its own loss: cross-entropy, plus (bbb) the KL term with weight 1/N (N = training-set size), or
  (ensemble) the sum of the members' cross-entropies in training, the mixture's NLL in evaluation.
  ``.model(x)`` gives logits (ensemble: log of the mixture's probabilities);
* ``.after_epoch(epoch)`` — after each epoch (SWAG collects the weights from epoch ``swa_start`` on);
* ``.finalize(train_loader)`` — after training (Laplace: fit the GGN and the prior precision;
  SWAG: make sure at least two snapshots exist); returns a dict to log;
* ``.predict_proba(x)`` — (N, C) predictive probabilities as a NumPy array;
* ``.state_dict()`` / ``.load_state_dict(state)`` — what is not in the module's parameters (SWAG
  moments, Laplace prior precision), to keep in the checkpoint next to ``model``.

Options come from ``cfg.get("bayes_options", {})``: ``num_samples`` (20), ``prior_sigma`` (1.0, bbb),
``members`` (5, ensemble), ``subset`` ("last_layer") and ``hessian_structure`` ("kron") (laplace),
``swa_start`` (half the epochs) and ``max_num_models`` (20) (swag).

``evaluate_uncertainty(model_or_wrapper, spec, out_dir)`` scores the predictive on ``spec.test``:
accuracy, NLL, Brier, ECE, MCE (15 bins), misclassification AUROC/AUPR of the predictive entropy,
mean predictive entropy (and mean mutual information for sampling methods); writes
``out_dir/reliability.png`` and ``out_dir/uncertainty.json``; returns the dict.
"""

from __future__ import annotations

import copy
import json
import os

import numpy as np

from .. import nn

__all__ = ["METHODS", "BayesianTraining", "bayesian_training", "evaluate_uncertainty"]

METHODS = ("mc-dropout", "bbb", "laplace", "ensemble", "swag")


def _counts(logits, y):
    pred = logits.numpy().argmax(-1)
    t = y.numpy() if hasattr(y, "numpy") else np.asarray(y)
    return {"n": int(t.shape[0]), "correct": int((pred == t).sum()), "count": int(t.shape[0])}


class _TrainModule(nn.Module):
    """The module the generic trainer optimizes: the network(s) plus the method's loss."""

    def __init__(self, kind, nets, kl_weight=0.0):
        super().__init__()
        self.kind = kind
        self.nets = nn.ModuleList(nets)
        self.kl_weight = float(kl_weight)

    def forward(self, x):
        from .. import log, softmax, stack

        if self.kind != "ensemble":
            return self.nets[0](x)
        probs = stack([softmax(m(x), dim=-1) for m in self.nets]).mean(0)
        return log(probs.clamp_min(1e-12))

    def compute_loss(self, x, y):
        from .. import is_grad_enabled
        from ..nn import functional as F
        from .bbb import kl_divergence

        if self.kind == "ensemble" and self.training and is_grad_enabled():
            logits = [m(x) for m in self.nets]
            loss = F.cross_entropy(logits[0], y)
            for f in logits[1:]:
                loss = loss + F.cross_entropy(f, y)
            return loss, _counts(logits[0], y)
        logits = self(x)
        if self.kind == "ensemble":
            loss = F.nll_loss(logits, y)
        else:
            loss = F.cross_entropy(logits, y)
        if self.kind == "bbb":
            loss = loss + kl_divergence(self.nets[0]) * self.kl_weight
        return loss, _counts(logits, y)


class BayesianTraining:
    """See the module docstring; built by :func:`bayesian_training`."""

    def __init__(self, method, model, cfg, spec):
        from .. import manual_seed
        from .bbb import bayesify
        from .mc_dropout import dropout_modules

        if method not in METHODS:
            raise ValueError(f"--bayes: unknown method {method!r}; expected one of {', '.join(METHODS)}")
        if getattr(spec, "task", "classification") != "classification":
            raise ValueError(f"--bayes {method}: needs a classification dataset, got task {spec.task!r}")
        opts = dict(cfg.get("bayes_options", {}) or {})
        self.method, self.cfg, self.spec, self.opts = method, cfg, spec, opts
        self.num_samples = int(opts.get("num_samples", 20))
        self.num_data = len(spec.train)
        self.laplace = self.swag = None
        if method == "mc-dropout":
            if not dropout_modules(model):
                raise ValueError("--bayes mc-dropout: the model has no dropout layer; build it with dropout, "
                                 "e.g. --model-opt dropout=0.2")
            nets = [model]
        elif method == "bbb":
            nets = [bayesify(model, prior_sigma=float(opts.get("prior_sigma", 1.0)),
                             posterior_rho_init=float(opts.get("posterior_rho_init", -5.0)))]
        elif method == "ensemble":
            members = int(opts.get("members", 5))
            if members < 1:
                raise ValueError(f"--bayes ensemble: members must be >= 1, got {members}")
            nets = [model]
            for k in range(1, members):
                manual_seed(int(cfg.get("seed", 0)) + 1000 * k)
                m = copy.deepcopy(model)
                for sub in m.modules():
                    if hasattr(sub, "reset_parameters"):
                        sub.reset_parameters()
                nets.append(m)
        else:
            nets = [model]
        self.net = nets[0]
        self.model = _TrainModule("ensemble" if method == "ensemble" else ("bbb" if method == "bbb" else "plain"),
                                  nets, 1.0 / max(self.num_data, 1))
        if method == "swag":
            from .swag import SWAG

            self.swag = SWAG(self.net, max_num_models=int(opts.get("max_num_models", 20)))
            self.swa_start = int(opts.get("swa_start", max(1, int(cfg.get("epochs", 2)) // 2)))

    # ------------------------------------------------------------------ trainer hooks
    def after_epoch(self, epoch, *args, **kwargs):
        """Call after each (1-based) epoch; SWAG collects from ``swa_start`` on."""
        if self.swag is not None and int(epoch) >= self.swa_start:
            self.swag.collect_model()

    def finalize(self, train_loader=None):
        """After the last epoch: Laplace fit (needs ``train_loader``), SWAG completion; returns a dict."""
        if self.method == "laplace":
            from .laplace import Laplace

            if train_loader is None:
                raise ValueError("--bayes laplace: finalize needs the training data loader")
            self.laplace = Laplace(self.net, subset=self.opts.get("subset", "last_layer"),
                                   hessian_structure=self.opts.get("hessian_structure", "kron"))
            self.laplace.fit((b[0], b[1]) for b in train_loader)
            if "prior_precision" in self.opts:
                self.laplace.prior_precision = float(self.opts["prior_precision"])
            else:
                self.laplace.optimize_prior_precision()
            return {"prior_precision": self.laplace.prior_precision,
                    "log_marginal_likelihood": self.laplace.log_marginal_likelihood()}
        if self.swag is not None:
            while self.swag.n_models < 2:
                self.swag.collect_model()
            return {"swag_models": self.swag.n_models}
        return {}

    # ------------------------------------------------------------------ predictive
    def predict_proba(self, x):
        from .. import no_grad
        from .mc_dropout import _as_input, _softmax_np, mc_dropout_samples

        if self.method == "mc-dropout":
            return mc_dropout_samples(self.net, x, self.num_samples).mean(0)
        if self.method == "bbb":
            from .bbb import BBBPredictive

            return BBBPredictive(self.net, self.num_samples).predict_proba(x)
        if self.method == "ensemble":
            from .ensemble import DeepEnsemble

            return DeepEnsemble(list(self.model.nets)).predict_proba(x)
        if self.method == "laplace":
            if self.laplace is None:
                raise RuntimeError("--bayes laplace: call finalize(train_loader) (the Laplace fit) before predicting")
            return self.laplace.predict_proba(x.numpy() if hasattr(x, "numpy") else x)
        if self.method == "swag":
            return self.swag.predict_proba(x, num_samples=self.num_samples)
        self.net.eval()
        with no_grad():
            return _softmax_np(self.net(_as_input(x)).numpy().astype(np.float64))

    def uncertainty(self, x):
        """The decomposition (mean, predictive/expected entropy, mutual information) for sampling methods."""
        from .mc_dropout import decompose, mc_dropout_samples

        if self.method == "mc-dropout":
            return decompose(mc_dropout_samples(self.net, x, self.num_samples))
        if self.method == "bbb":
            from .bbb import BBBPredictive

            return BBBPredictive(self.net, self.num_samples).uncertainty(x)
        if self.method == "ensemble":
            from .ensemble import DeepEnsemble

            return DeepEnsemble(list(self.model.nets)).uncertainty(x)
        if self.method == "swag":
            return self.swag.uncertainty(x, num_samples=self.num_samples)
        return None

    # ------------------------------------------------------------------ checkpoint
    def state_dict(self):
        out = {"method": self.method}
        if self.swag is not None:
            out["swag"] = self.swag.state_dict()
        if self.laplace is not None:
            out["prior_precision"] = self.laplace.prior_precision
        return out

    def load_state_dict(self, state):
        if state.get("method") != self.method:
            raise ValueError(f"BayesianTraining.load_state_dict: state is for {state.get('method')!r}, "
                             f"not {self.method!r}")
        if self.swag is not None and "swag" in state:
            self.swag.load_state_dict(state["swag"])
        if "prior_precision" in state:
            self.opts["prior_precision"] = float(state["prior_precision"])


def bayesian_training(method, model, cfg, spec):
    """A :class:`BayesianTraining` for ``mathdl train --bayes METHOD`` (see the module docstring)."""
    return BayesianTraining(method, model, cfg, spec)


def _test_arrays(spec, batch_size=512):
    from ..data import DataLoader

    xs, ys = [], []
    for b in DataLoader(spec.test, batch_size=batch_size, collate_fn=spec.extra.get("collate_fn")):
        xs.append(b[0].numpy() if hasattr(b[0], "numpy") else np.asarray(b[0]))
        ys.append(b[1].numpy() if hasattr(b[1], "numpy") else np.asarray(b[1]))
    return np.concatenate(xs), np.concatenate(ys).astype(np.int64)


def evaluate_uncertainty(model_or_wrapper, spec, out_dir, n_bins=15):
    """Uncertainty metrics of a model (softmax of its logits) or of anything with ``predict_proba``
    on ``spec.test``; writes ``reliability.png`` and ``uncertainty.json`` into ``out_dir``."""
    from .. import metrics
    from .mc_dropout import _as_input, _softmax_np

    if getattr(spec, "task", "classification") != "classification":
        raise ValueError(f"--uncertainty: needs a classification dataset, got task {spec.task!r}")
    x, y = _test_arrays(spec)
    if hasattr(model_or_wrapper, "predict_proba"):
        probs = np.asarray(model_or_wrapper.predict_proba(x), np.float64)
    elif isinstance(model_or_wrapper, nn.Module):
        from .. import no_grad

        model_or_wrapper.eval()
        with no_grad():
            probs = _softmax_np(model_or_wrapper(_as_input(x)).numpy().astype(np.float64))
    else:
        raise TypeError(f"--uncertainty: expected a Module or an object with predict_proba, "
                        f"got {type(model_or_wrapper).__name__}")
    wrong = probs.argmax(1) != y
    out = {"n": int(len(y)), "accuracy": metrics.accuracy(probs, y), "nll": metrics.nll(probs, y),
           "brier": metrics.brier_score(probs, y), "ece": metrics.expected_calibration_error(probs, y, n_bins),
           "mce": metrics.maximum_calibration_error(probs, y, n_bins),
           "mean_predictive_entropy": float(metrics.predictive_entropy(probs).mean())}
    if 0 < wrong.sum() < len(y):
        out["misclassification_auroc"], out["misclassification_aupr"] = metrics.misclassification_auroc(probs, y)
    unc = getattr(model_or_wrapper, "uncertainty", None)
    if callable(unc):
        u = unc(x)
        if u is not None:
            out["mean_mutual_information"] = float(np.mean(u["mutual_information"]))
    os.makedirs(out_dir, exist_ok=True)
    png = os.path.join(out_dir, "reliability.png")
    metrics.reliability_diagram(probs, y, png, n_bins=n_bins,
                                title=f"{getattr(model_or_wrapper, 'method', 'model')} on {spec.extra.get('name', '')}")
    out["reliability_diagram"] = png
    with open(os.path.join(out_dir, "uncertainty.json"), "w") as f:
        json.dump(out, f, indent=2)
    return out
