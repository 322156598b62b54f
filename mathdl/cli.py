"""The ``mathdl`` command: ``train``, ``evaluate``, ``list``, and the subcommands of :data:`PLUGINS`.

``mathdl train`` is a generic supervised trainer over the two registries: a model builder
(``mathdl.models.registry``) is applied to a dataset spec (``mathdl.data.registry``).  For the
tasks ``classification``, ``sequence`` and ``language_model`` the loss is

    L = cross_entropy(logits.reshape(-1, C), target.reshape(-1), ignore_index=-100)

(logits carry the C classes / vocabulary in their last axis) and accuracy counts correct
argmax predictions among the targets that are not ``-100``; for ``sequence`` the exact-sequence
accuracy (every position of an example right) is reported as well.  For ``regression`` the loss
is the mean squared error and R^2 is reported instead of accuracy.

Each run writes into its folder (``runs/<model>-<dataset>-<time>`` unless ``--out``):
``checkpoint.safetensors`` after every completed epoch (model, optimizer, scheduler, epoch,
metrics, config and the random generator's state, so ``--resume`` continues exactly as an
uninterrupted run would), ``metrics.csv`` (one row per epoch) and ``curves.png``.

Settings come, in order, from the command line, the checkpoint being resumed, the model
builder's ``train_defaults`` attribute (a dict, e.g. ``{"epochs": 3, "lr": 3e-3}``), and
:data:`DEFAULTS`.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import importlib
import json
import math
import os
import sys
import time
import types

import numpy as np

__all__ = ["main", "train", "evaluate", "build_parser", "TrainingDiverged", "DEFAULTS", "CHECKPOINT_NAME"]

CHECKPOINT_NAME = "checkpoint.safetensors"
METRICS_NAME = "metrics.csv"
PLOT_NAME = "curves.png"
BAYES_NAME = "bayes.safetensors"

DEFAULTS = {
    "model": "mlp", "dataset": "digits", "epochs": 20, "batch_size": 64, "lr": 1e-3, "optimizer": "adam",
    "scheduler": "none", "weight_decay": 0.0, "momentum": None, "clip_grad": 0.0, "seed": 0, "threads": 0,
    "device": "cpu", "amp": "none",
}
AMP = {"none": None, "fp16": "float16", "bf16": "bfloat16"}
# Subcommands that live beside their subject: each module has ``add_parser(subparsers)`` and ``run(args)``.
PLUGINS = ("generate", "analysis.cli", "compress.cli", "experiments.reproduce")
SCHEDULERS = ("none", "step", "cosine", "exponential", "onecycle", "warmup")


class CLIError(Exception):
    """A user error: printed as one line ``mathdl: error: ...`` with exit code 2."""


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; names the epoch and step."""

    def __init__(self, epoch, step, value):
        self.epoch, self.step, self.value = epoch, step, value
        super().__init__(f"loss became {value} at epoch {epoch}, step {step}")


# ============================================================================ argument parsing
class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (and exit code 2), never a usage dump."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _parse_value(text):
    """'3' -> 3, '0.5' -> 0.5, '256,128' -> (256, 128), 'true' -> True, else the string."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    if "," in text:
        return tuple(_parse_value(t) for t in text.split(",") if t.strip())
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _options(pairs, flag):
    out = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise CLIError(f"{flag} expects KEY=VALUE, got {pair!r}")
        k, v = pair.split("=", 1)
        out[k.strip().replace("-", "_")] = _parse_value(v.strip())
    return out


def _registries():
    from . import data, models  # noqa: F401  (importing them registers every model and dataset)
    from .data.registry import DATASETS
    from .models.registry import MODELS

    return MODELS, DATASETS


def _optimizer_names():
    from . import optim  # noqa: F401  (importing it registers every optimizer)
    from .optim.registry import optimizer_names

    return optimizer_names()


def _plugins():
    """The plugin modules that exist (a plugin still being written may be absent)."""
    found = []
    for name in PLUGINS:
        try:
            mod = importlib.import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as err:
            if not (err.name and f"{__package__}.{name}".startswith(err.name)):
                raise
            continue
        if hasattr(mod, "add_parser") and hasattr(mod, "run"):
            found.append(mod)
    return found


def build_parser():
    models, datasets = _registries()
    parser = _Parser(
        prog="mathdl",
        description="mathdl: deep learning from its mathematical foundations. Train and evaluate the reference "
                    "models on bundled or local datasets.",
        epilog="Run 'mathdl COMMAND --help' for a command's options. Example: mathdl train --epochs 5",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    t = sub.add_parser(
        "train", help="train a model on a dataset (default: an MLP on the bundled digits)",
        description="Train a registered model on a registered dataset. Writes checkpoint.safetensors (every "
                    "epoch), metrics.csv and curves.png into the run folder. With no options: an MLP on the "
                    "8x8 digits (20 epochs, batch 64, Adam lr 1e-3, cosine schedule). Options left unset take "
                    "the model's own defaults, then the ones shown.",
        epilog="models: " + ", ".join(sorted(models)) + ". datasets: " + ", ".join(sorted(datasets))
               + ". 'mathdl list' describes them.",
    )
    t.add_argument("--model", help=f"model name (default {DEFAULTS['model']})")
    t.add_argument("--dataset", help=f"dataset name (default {DEFAULTS['dataset']})")
    t.add_argument("--epochs", type=int, help=f"total number of epochs (default {DEFAULTS['epochs']})")
    t.add_argument("--batch-size", type=int, help=f"examples per step (default {DEFAULTS['batch_size']})")
    t.add_argument("--lr", type=float, help=f"learning rate (default {DEFAULTS['lr']})")
    t.add_argument("--optimizer", metavar="NAME",
                   help=f"optimizer (default {DEFAULTS['optimizer']}): " + ", ".join(_optimizer_names()))
    t.add_argument("--optim-opt", action="append", metavar="KEY=VALUE",
                   help="option for the optimizer, e.g. history_size=20 (repeatable)")
    t.add_argument("--scheduler", choices=SCHEDULERS,
                   help="learning-rate schedule: step (x0.1 every epochs/3), cosine (to 0 over the run), "
                        "exponential (x0.95 per epoch), onecycle (per step), warmup (linear over the first "
                        "epoch, per step); default: the model's (mlp: cosine), else none")
    t.add_argument("--weight-decay", type=float, help="L2 weight decay (default 0; AdamW: decoupled)")
    t.add_argument("--momentum", type=float, help="momentum for sgd/rmsprop (default 0.9 for sgd)")
    t.add_argument("--clip-grad", type=float, help="clip the global gradient norm to this value (default off)")
    t.add_argument("--seed", type=int, help="random seed: same seed, same numbers (default 0)")
    t.add_argument("--bayes", choices=("mc-dropout", "bbb", "laplace", "ensemble", "swag"),
                   help="train a Bayesian variant: MC dropout, Bayes by Backprop, a Laplace approximation fitted "
                        "after training, a deep ensemble or SWAG (see mathdl.bayes)")
    t.add_argument("--bayes-opt", action="append", metavar="KEY=VALUE",
                   help="option for --bayes, e.g. num_samples=30, members=5, hessian_structure=kron (repeatable)")
    t.add_argument("--device", help="cpu (default) or cuda (needs CuPy and a GPU)")
    t.add_argument("--amp", choices=tuple(AMP),
                   help="mixed precision: fp16 (autocast + dynamic loss scaling) or bf16 (autocast); default none")
    t.add_argument("--threads", type=int,
                   help="threads for BLAS and mathdl's memory-bound passes while training (0: leave as is; "
                        "default: the model's, mlp: 1 -- small matrices run fastest on one thread, and many "
                        "threads thrash on a busy machine)")
    t.add_argument("--out", help="run folder (default runs/<model>-<dataset>-<timestamp>)")
    t.add_argument("--resume", metavar="CHECKPOINT",
                   help="continue a run from its checkpoint (its folder unless --out); --epochs is the new total")
    t.add_argument("--model-opt", action="append", metavar="KEY=VALUE",
                   help="option for the model builder, e.g. hidden=512,256 (repeatable)")
    t.add_argument("--data-opt", action="append", metavar="KEY=VALUE",
                   help="option for the dataset loader, e.g. root=~/data/mnist (repeatable)")
    t.add_argument("--data-dir", help="directory holding file-based datasets (mnist, fashion_mnist, cifar10)")
    t.add_argument("--no-progress", action="store_true", help="no progress bars (one line per epoch)")
    t.add_argument("--no-plot", action="store_true", help="do not write curves.png")

    e = sub.add_parser(
        "evaluate", help="report accuracy and a confusion matrix for a checkpoint",
        description="Rebuild the model stored in a training checkpoint, run it on the dataset's test split and "
                    "print the accuracy (R^2 for regression) and the confusion matrix.",
    )
    e.add_argument("--checkpoint", required=True, help="checkpoint.safetensors written by 'mathdl train'")
    e.add_argument("--split", choices=("test", "train"), default="test", help="which split (default test)")
    e.add_argument("--batch-size", type=int, default=256, help="examples per forward pass (default 256)")
    e.add_argument("--plot", metavar="PNG", help="also draw the confusion matrix into this PNG file")
    e.add_argument("--data-dir", help="directory holding file-based datasets, if different from training")
    e.add_argument("--uncertainty", action="store_true",
                   help="score the predictive distribution: accuracy, NLL, Brier, ECE/MCE, misclassification "
                        "AUROC/AUPR, with a reliability diagram (uses the run's --bayes method if it had one)")
    e.add_argument("--out", help="folder for the --uncertainty files (default: the checkpoint's folder)")

    sub.add_parser("list", help="list the registered models and datasets",
                   description="List every registered model and dataset with a one-line description.")

    for plugin in _plugins():
        before = set(sub.choices)
        plugin.add_parser(sub)
        for name in set(sub.choices) - before:
            sub.choices[name].set_defaults(_plugin_run=plugin.run)
    return parser


# ============================================================================ training
def _resolve(args, models, datasets, resumed_config=None):
    """The run configuration: explicit options > resumed run > builder/dataset train_defaults > DEFAULTS."""
    cfg = dict(DEFAULTS)
    given = {k: getattr(args, k) for k in ("model", "dataset", "epochs", "batch_size", "lr", "optimizer",
                                           "scheduler", "weight_decay", "momentum", "clip_grad", "seed", "threads",
                                           "device", "amp", "bayes")
             if getattr(args, k, None) is not None}
    model_opts = _options(getattr(args, "model_opt", None), "--model-opt")
    optim_opts = _options(getattr(args, "optim_opt", None), "--optim-opt")
    bayes_opts = _options(getattr(args, "bayes_opt", None), "--bayes-opt")
    data_opts = _options(getattr(args, "data_opt", None), "--data-opt")
    if getattr(args, "data_dir", None):
        data_opts["root"] = os.path.expanduser(args.data_dir)
    if resumed_config is not None:
        for key in ("model", "dataset", "model_options", "data_options", "seed"):
            if key in given and given[key] != resumed_config.get(key):
                raise CLIError(f"--{key.replace('_', '-')} {given[key]!r} does not match the checkpoint, which was "
                               f"trained with {resumed_config.get(key)!r}")
        if model_opts and model_opts != resumed_config.get("model_options"):
            raise CLIError("--model-opt does not match the checkpoint's model options "
                           f"{resumed_config.get('model_options')}")
        cfg.update(resumed_config)
        cfg.update(given)
        if optim_opts:
            cfg["optimizer_options"] = optim_opts
        if data_opts:
            cfg["data_options"] = {**cfg.get("data_options", {}), **data_opts}
        return cfg
    name_m = given.get("model", cfg["model"])
    name_d = given.get("dataset", cfg["dataset"])
    if name_m not in models:
        raise CLIError(f"unknown model {name_m!r}; available: {', '.join(sorted(models))}")
    if name_d not in datasets:
        raise CLIError(f"unknown dataset {name_d!r}; available: {', '.join(sorted(datasets))}")
    cfg.update(getattr(models[name_m][0], "train_defaults", {}) or {})
    if "lr" not in given and "optimizer" in given:
        from .optim.registry import DEFAULT_LR

        cfg["lr"] = DEFAULT_LR.get(given["optimizer"], cfg["lr"])
    cfg.update(given)
    cfg["model_options"] = model_opts
    cfg["data_options"] = data_opts
    cfg["optimizer_options"] = optim_opts
    cfg["bayes_options"] = bayes_opts
    return cfg


def _check_config(cfg):
    for key in ("epochs", "batch_size"):
        if not isinstance(cfg[key], int) or cfg[key] < 1:
            raise CLIError(f"--{key.replace('_', '-')} must be a positive integer, got {cfg[key]!r}")
    if not (cfg["lr"] > 0 and math.isfinite(cfg["lr"])):
        raise CLIError(f"--lr must be a positive number, got {cfg['lr']!r}")
    if cfg["seed"] < 0:
        raise CLIError(f"--seed must be a non-negative integer, got {cfg['seed']!r}")
    if not isinstance(cfg.get("threads"), int) or cfg["threads"] < 0:
        raise CLIError(f"--threads must be a non-negative integer (0: leave as is), got {cfg.get('threads')!r}")
    device = cfg.get("device", "cpu")
    if not (device == "cpu" or str(device).startswith("cuda")):
        raise CLIError(f"--device must be 'cpu' or 'cuda', got {device!r}")
    if str(device).startswith("cuda"):
        from .backend import cuda_is_available

        if not cuda_is_available():
            raise CLIError("--device cuda: no GPU is available here (CuPy with a CUDA device is needed: "
                           "pip install cupy-cuda12x)")
    if cfg.get("amp", "none") not in AMP:
        raise CLIError(f"--amp must be one of {', '.join(AMP)}, got {cfg.get('amp')!r}")
    names = _optimizer_names()
    if cfg["optimizer"] not in names:
        raise CLIError(f"unknown optimizer {cfg['optimizer']!r}; available: {', '.join(names)}")
    if cfg["scheduler"] not in SCHEDULERS:
        raise CLIError(f"unknown scheduler {cfg['scheduler']!r}; available: {', '.join(SCHEDULERS)}")


def _load_spec(cfg):
    from .data.registry import load_dataset

    try:
        return load_dataset(cfg["dataset"], **cfg.get("data_options", {}))
    except TypeError as e:
        raise CLIError(f"dataset {cfg['dataset']!r}: bad --data-opt ({e})") from None
    except FileNotFoundError as e:
        raise CLIError(str(e)) from None


def _build_model(cfg, spec):
    from .models.registry import build_model

    try:
        return build_model(cfg["model"], spec, **cfg.get("model_options", {}))
    except TypeError as e:
        raise CLIError(f"model {cfg['model']!r}: bad --model-opt ({e})") from None
    except (ValueError, NotImplementedError) as e:
        raise CLIError(f"model {cfg['model']!r} cannot be built for dataset {cfg['dataset']!r} "
                       f"(input shape {spec.input_shape}, task {spec.task}): {e}") from None


def _probe(model, spec, cfg):
    """Run the model on two training examples (eval mode, no grad, random state restored), so that a
    model that cannot read this dataset fails now with one line instead of a traceback mid-epoch."""
    from . import no_grad
    from .data import DataLoader

    state = _get_rng_state()
    model.eval()
    try:
        with no_grad():
            x, y = _batch_xy(next(iter(DataLoader(spec.train, batch_size=2, collate_fn=spec.extra.get("collate_fn")))))
            _batch_loss(model, x, y, spec)
    except (TypeError, ValueError, RuntimeError, IndexError) as e:
        raise CLIError(f"model {cfg['model']!r} cannot be trained on dataset {cfg['dataset']!r} "
                       f"(inputs {tuple(spec.input_shape)}, task {spec.task}): {' '.join(str(e).split())}") from None
    finally:
        model.train()
        _set_rng_state(state)


def _bayesian(cfg, model, spec):
    """The --bayes wrapper of a built model (mathdl.bayes.cli_support), or None."""
    if not cfg.get("bayes"):
        return None
    from .bayes.cli_support import bayesian_training

    try:
        return bayesian_training(cfg["bayes"], model, cfg, spec)
    except (ValueError, TypeError) as e:
        text = " ".join(str(e).split())
        raise CLIError(text if text.startswith("--bayes") else f"--bayes {cfg['bayes']}: {text}") from None


def _make_optimizer(cfg, model):
    from .optim.registry import build_optimizer

    try:
        return build_optimizer(cfg["optimizer"], model, cfg)
    except TypeError as e:
        raise CLIError(f"optimizer {cfg['optimizer']!r}: bad --optim-opt ({e})") from None
    except ValueError as e:
        raise CLIError(f"optimizer {cfg['optimizer']!r}: {e}") from None


def _make_scheduler(cfg, optimizer, steps_per_epoch):
    """(scheduler or None, whether it steps per batch)."""
    from .optim import lr_scheduler as S

    name, epochs = cfg["scheduler"], cfg["epochs"]
    if name == "none":
        return None, False
    if name == "step":
        return S.StepLR(optimizer, step_size=max(1, epochs // 3), gamma=0.1), False
    if name == "cosine":
        return S.CosineAnnealingLR(optimizer, T_max=epochs), False
    if name == "exponential":
        return S.ExponentialLR(optimizer, gamma=0.95), False
    if name == "onecycle":
        return S.OneCycleLR(optimizer, max_lr=cfg["lr"], total_steps=epochs * steps_per_epoch), True
    return S.LinearLR(optimizer, start_factor=0.1, end_factor=1.0, total_iters=steps_per_epoch), True


def _loss_and_counts(logits, y, task, num_classes):
    """(loss Tensor, sums dict) for one batch; sums are plain floats/ints added over the epoch."""
    from .nn import functional as F

    if task == "regression":
        pred = logits.reshape(y.shape)
        loss = F.mse_loss(pred, y)
        yh = _host(y)
        err = _host(pred) - yh
        return loss, {"n": int(y.shape[0]), "sse": float((err.astype(np.float64) ** 2).sum()),
                      "sy": float(yh.sum()), "syy": float((yh.astype(np.float64) ** 2).sum()),
                      "count": int(yh.size)}
    flat = logits.reshape(-1, num_classes)
    target = y.reshape(-1)
    loss = F.cross_entropy(flat, target, ignore_index=-100)
    pred = _host(logits).argmax(-1)
    tgt = _host(y)
    valid = tgt != -100
    correct = (pred == tgt) & valid
    out = {"n": int(tgt.shape[0]), "correct": int(correct.sum()), "count": int(valid.sum())}
    if task == "sequence":
        per_example = (correct | ~valid).reshape(tgt.shape[0], -1).all(axis=1)
        out["seq_correct"] = int(per_example.sum())
    return loss, out


def _batch_loss(model, x, y, spec):
    """(loss, sums) of one batch: the model's own ``compute_loss(x, y)`` if it has one (VAEs, flows,
    Bayesian networks: the loss is part of the model), else the task's loss on ``model(x)``."""
    if hasattr(model, "compute_loss"):
        return model.compute_loss(x, y)
    return _loss_and_counts(model(x), y, spec.task, spec.num_classes)


def _summarize(loss_sum, sums, task, prefix):
    n = max(sums.get("n", 0), 1)
    row = {f"{prefix}_loss": loss_sum / n}
    if task == "regression":
        count = max(sums.get("count", 0), 1)
        var = sums["syy"] / count - (sums["sy"] / count) ** 2
        row[f"{prefix}_r2"] = 1.0 - (sums["sse"] / count) / var if var > 0 else float("nan")
    elif "count" in sums:  # models with their own loss (VAEs) may report no accuracy
        row[f"{prefix}_acc"] = sums.get("correct", 0) / max(sums.get("count", 0), 1)
        if task == "sequence":
            row[f"{prefix}_seq_acc"] = sums.get("seq_correct", 0) / n
        if task == "language_model":
            row[f"{prefix}_ppl"] = math.exp(min(loss_sum / n, 700.0))
    for k, v in sums.items():  # a model's own per-example sums (a VAE's elbo, rec, kl): their means
        if k not in _STANDARD_SUMS:
            row[f"{prefix}_{k}"] = v / n
    return row


_STANDARD_SUMS = ("n", "correct", "count", "seq_correct", "sse", "sy", "syy")


def _add(total, part):
    for k, v in part.items():
        total[k] = total.get(k, 0) + v


def _host(t):
    """A tensor's values as a host NumPy array (copied from the device if needed)."""
    from .backend import to_device

    return np.asarray(to_device(t.array, "cpu"))


def _batch_xy(batch, device="cpu"):
    if not isinstance(batch, tuple) or len(batch) < 2:
        raise RuntimeError("the trainer expects batches (input, target); the dataset yields "
                           f"{type(batch).__name__} of length {len(batch) if isinstance(batch, tuple) else 1}")
    x, y = batch[0], batch[1]
    if device != "cpu":
        x, y = x.to(device), y.to(device)
    return x, y


def run_epoch_eval(model, dataset, spec, batch_size=256, collect=False, device="cpu"):
    """Loss and accuracy (R^2 for regression) of ``model`` on ``dataset`` in eval mode, no grad.

    With ``collect`` also returns the (predictions, targets) arrays.
    """
    from . import no_grad
    from .data import DataLoader

    model.eval()
    loss_sum, sums, preds, targets = 0.0, {}, [], []
    with no_grad():
        for batch in DataLoader(dataset, batch_size=batch_size, collate_fn=spec.extra.get("collate_fn")):
            x, y = _batch_xy(batch, device)
            if hasattr(model, "compute_loss"):
                loss, part = model.compute_loss(x, y)
                loss_sum += float(loss.item()) * part["n"]
                _add(sums, part)
                continue
            logits = model(x)
            loss, part = _loss_and_counts(logits, y, spec.task, spec.num_classes)
            loss_sum += float(loss.item()) * part["n"]
            _add(sums, part)
            if collect:
                out = _host(logits)
                preds.append(out.reshape(y.shape) if spec.task == "regression" else out.argmax(-1))
                targets.append(_host(y))
    row = _summarize(loss_sum, sums, spec.task, "test")
    if collect:
        return row, np.concatenate(preds), np.concatenate(targets)
    return row


def _default_run_dir(cfg):
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = os.path.join("runs", f"{cfg['model']}-{cfg['dataset']}-{stamp}")
    path, k = base, 2
    while os.path.exists(path):
        path = f"{base}-{k}"
        k += 1
    return path


def _write_metrics(run_dir, history):
    if not history:
        return
    keys = []
    for row in history:
        keys.extend(k for k in row if k not in keys)
    tmp = os.path.join(run_dir, METRICS_NAME + ".tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        for row in history:
            w.writerow({k: row.get(k, "") for k in keys})
    os.replace(tmp, os.path.join(run_dir, METRICS_NAME))


def _write_plot(run_dir, history, title):
    if not history:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r["epoch"] for r in history]
    metric = next((m for m in ("acc", "r2") if f"train_{m}" in history[0]), None)
    fig, axes = plt.subplots(1, 2 if metric else 1, figsize=(10 if metric else 5, 4), squeeze=False)
    ax = axes[0, 0]
    ax.plot(epochs, [r["train_loss"] for r in history], "o-", label="train")
    ax.plot(epochs, [r["test_loss"] for r in history], "s-", label="test")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title("loss")
    ax.legend()
    ax.grid(alpha=0.3)
    if metric:
        ax = axes[0, 1]
        ax.plot(epochs, [r[f"train_{metric}"] for r in history], "o-", label="train")
        ax.plot(epochs, [r[f"test_{metric}"] for r in history], "s-", label="test")
        if "test_seq_acc" in history[0]:
            ax.plot(epochs, [r["test_seq_acc"] for r in history], "^-", label="test (exact sequence)")
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy" if metric == "acc" else "R^2")
        ax.set_title("accuracy" if metric == "acc" else "R^2")
        ax.legend()
        ax.grid(alpha=0.3)
    from matplotlib.ticker import MaxNLocator

    for a in axes.ravel():
        a.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    fig.suptitle(title)
    fig.tight_layout()
    path = os.path.join(run_dir, PLOT_NAME)
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)
    return path


@contextlib.contextmanager
def _mismatch_as_cli_error(what):
    """A checkpoint that does not fit the rebuilt model/optimizer: one-line error instead of a traceback."""
    try:
        yield
    except (RuntimeError, ValueError, KeyError) as e:
        text = " ".join(str(e).split())
        raise CLIError(f"{what}: the checkpoint does not fit the model built from its config: {text}") from None


def _blas_threads(n):
    """Inside the block, ``n`` threads for BLAS and for mathdl's split passes (no-op for 0/None)."""
    if not n:
        return contextlib.nullcontext()
    from .parallel import num_threads

    return num_threads(int(n))


def _get_rng_state():
    from . import backend

    return backend.rng.np.bit_generator.state


def _set_rng_state(state):
    from . import backend

    backend.rng.np.bit_generator.state = state


def _fmt(row):
    parts = []
    for k, v in row.items():
        if k in ("epoch", "time_s"):
            continue
        parts.append(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}")
    return ", ".join(parts)


def train(cfg, run_dir, resume_state=None, progress=True, plot=True, log=print):
    """Train per ``cfg`` (see :data:`DEFAULTS`), writing into ``run_dir``; returns the metrics history.

    ``resume_state`` is a loaded checkpoint to continue from.  Raises :class:`TrainingDiverged` on a
    NaN/inf loss and lets ``KeyboardInterrupt`` through; in both cases the checkpoint of the last
    completed epoch is intact on disk.
    """
    from . import manual_seed
    from .distributed.launch import setup_training

    _check_config(cfg)
    manual_seed(cfg["seed"])
    spec = _load_spec(cfg)
    model = _build_model(cfg, spec)
    bayes = _bayesian(cfg, model, spec)
    if bayes is not None:
        model = bayes.model
    _probe(model, spec, cfg)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = _make_optimizer(cfg, model)
    # under `mpiexec -n N`: per-rank batch batch_size/N, gradients averaged (mathdl.distributed.launch)
    dist = setup_training(cfg, model, spec.train, cfg["batch_size"], collate_fn=spec.extra.get("collate_fn"),
                          error=CLIError)
    loader = dist.loader
    if not dist.is_main:  # only rank 0 prints, plots and writes files
        log, progress, plot = (lambda *a, **k: None), False, False
    scheduler, per_step = _make_scheduler(cfg, optimizer, len(loader))
    scaler = None
    if cfg.get("amp", "none") != "none":
        if getattr(optimizer, "needs_closure", False):
            raise CLIError(f"--amp does not combine with {cfg['optimizer']!r}, whose steps re-evaluate the loss")
        if cfg["amp"] == "fp16":
            from .amp import GradScaler

            scaler = GradScaler()
    history, start = [], 0
    if resume_state is not None:
        with _mismatch_as_cli_error("resume"):
            model.load_state_dict(resume_state["model"])
            optimizer.load_state_dict(resume_state["optimizer"])
            if scheduler is not None and resume_state.get("scheduler") is not None:
                scheduler.load_state_dict(resume_state["scheduler"])
        history = list(resume_state.get("metrics", []))
        start = int(resume_state["epoch"])
        _set_rng_state(resume_state["rng"])
        if resume_state.get("scaler") and scaler is not None:
            scaler.load_state_dict(resume_state["scaler"])
    device = cfg.get("device", "cpu")
    if device != "cpu":  # built, restored and probed on the host; now everything moves at once
        model.to(device)
        _optimizer_to(optimizer, device)
    try:
        if dist.is_main:
            os.makedirs(run_dir, exist_ok=True)
            probe = os.path.join(run_dir, ".write-test")
            with open(probe, "w"):
                pass
            os.remove(probe)
    except OSError as e:
        raise CLIError(f"cannot write the run folder {run_dir!r}: {e.strerror or e}") from None
    ckpt_path = os.path.join(run_dir, CHECKPOINT_NAME)
    if dist.is_main:
        with open(os.path.join(run_dir, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2, default=str)
    if start >= cfg["epochs"]:
        log(f"checkpoint already has {start} epochs (asked for {cfg['epochs']}); nothing to train")
    n_params = sum(int(np.prod(p.shape)) for p in params)
    log(f"training {cfg['model']} ({n_params:,} parameters) on {cfg['dataset']} "
        f"({len(spec.train)} train / {len(spec.test)} test) for {cfg['epochs']} epochs -> {run_dir}")

    if progress:
        from tqdm import tqdm
    run = types.SimpleNamespace(cfg=cfg, spec=spec, model=model, params=params, optimizer=optimizer,
                                scheduler=scheduler, per_step=per_step, loader=loader, history=history,
                                ckpt_path=ckpt_path, tqdm=progress and tqdm, log=log, scaler=scaler, device=device,
                                bayes=bayes, net=dist.model, dist=dist)
    with _blas_threads(cfg.get("threads")), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for epoch in range(start + 1, cfg["epochs"] + 1):
            _train_epoch(run, epoch)
    if bayes is not None:
        from .data import DataLoader
        from .serialization import save

        log(f"{cfg['bayes']}: " + _fmt(bayes.finalize(DataLoader(spec.train, batch_size=256,
                                                                   collate_fn=spec.extra.get("collate_fn"))) or {}))
        if dist.is_main:
            save(bayes.state_dict(), os.path.join(run_dir, BAYES_NAME))
    if plot:
        _write_plot(run_dir, history, f"{cfg['model']} on {cfg['dataset']}")
    if dist.is_main and hasattr(model, "write_figures"):
        model.write_figures(run_dir, spec)
    return history


def _train_epoch(run, epoch):
    """One pass over the training data, the test evaluation, then the checkpoint and metrics (atomically)."""
    from . import optim
    from .serialization import save

    cfg, spec, model, params, optimizer = run.cfg, run.spec, run.model, run.params, run.optimizer
    scheduler, per_step, loader, history, tqdm = run.scheduler, run.per_step, run.loader, run.history, run.tqdm
    t0 = time.perf_counter()
    model.train()
    loader.set_epoch(epoch - 1)
    batches = loader
    bar = None
    if tqdm:
        bar = tqdm(loader, desc=f"epoch {epoch}/{cfg['epochs']}", leave=True, dynamic_ncols=True,
                   file=sys.stderr, unit="batch")
        batches = bar
    loss_sum, sums = 0.0, {}
    needs_closure = getattr(optimizer, "needs_closure", False)
    scaler = run.scaler
    amp_dtype = AMP[cfg.get("amp", "none")]
    for step, batch in enumerate(batches, 1):
        x, y = _batch_xy(batch, run.device)
        if amp_dtype is not None:
            from .amp import autocast

            with autocast("cuda" if run.device != "cpu" else "cpu", dtype=amp_dtype):
                loss, part = _batch_loss(run.net, x, y, spec)
        else:
            loss, part = _batch_loss(run.net, x, y, spec)
        value = float(loss.item())
        if not run.dist.all_finite(value):  # every rank's loss: all ranks stop at the same step
            if bar is not None:
                bar.close()
            raise TrainingDiverged(epoch, step, value if not math.isfinite(value) else float("nan"))
        optimizer.zero_grad()
        if scaler is not None:
            scaler.scale(loss).backward()
            if cfg.get("clip_grad"):
                scaler.unscale_(optimizer)
                optim.clip_grad_norm_(params, cfg["clip_grad"])
            scaler.step(optimizer)
            scaler.update()
        elif needs_closure and not getattr(optimizer, "closure_backward", True):
            # Newton, Hessian-free, natural gradient, AdaHessian differentiate the loss themselves
            optimizer.step(lambda x=x, y=y: _batch_loss(run.net, x, y, spec)[0])
        else:
            loss.backward()
            if cfg.get("clip_grad"):
                optim.clip_grad_norm_(params, cfg["clip_grad"])
            if needs_closure:  # L-BFGS re-evaluates the loss (and its gradient) in its line search
                def closure(x=x, y=y):
                    optimizer.zero_grad()
                    again = _batch_loss(run.net, x, y, spec)[0]
                    again.backward()
                    return run.dist.global_loss(again)

                optimizer.step(closure)
            else:
                optimizer.step()
        if per_step:
            scheduler.step()
        loss_sum += value * part["n"]
        _add(sums, part)
        if bar is not None and (step % 5 == 0 or step == len(loader)):
            bar.set_postfix({k.replace("train_", ""): f"{v:.4f}"
                             for k, v in _summarize(loss_sum, sums, spec.task, "train").items()})
    if bar is not None:
        bar.close()
    sums = run.dist.reduce_metrics({"loss_sum": loss_sum, **sums})  # summed over ranks
    loss_sum = sums.pop("loss_sum")
    row = {"epoch": epoch, **_summarize(loss_sum, sums, spec.task, "train"),
           **run_epoch_eval(model, spec.test, spec, device=run.device), "lr": float(optimizer.param_groups[0]["lr"])}
    if scaler is not None:
        row["loss_scale"] = scaler.get_scale()
        row["skipped_steps"] = scaler.skipped_steps
    if spec.task == "language_model":  # cross-entropy in nats per character -> bits per character
        row["test_bpc"] = row["test_loss"] / math.log(2)
    if scheduler is not None and not per_step:
        scheduler.step()
    if run.bayes is not None:
        run.bayes.after_epoch(epoch)
    row["time_s"] = round(time.perf_counter() - t0, 4)
    history.append(row)
    state = {
        "kind": "mathdl-train", "epoch": epoch, "config": cfg, "metrics": history,
        "model": model.state_dict(), "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "rng": _get_rng_state(),
        "scaler": scaler.state_dict() if scaler is not None else None,
    }
    if run.dist.is_main:
        save(_jsonable_state(state), run.ckpt_path)
        _write_metrics(os.path.dirname(run.ckpt_path), history)
    run.log(f"epoch {epoch}/{cfg['epochs']}: {_fmt(row)} ({row['time_s']:.2f} s)")


def _optimizer_to(optimizer, device):
    """Move an optimizer's per-parameter state (moments, step counts held as arrays) to ``device``."""
    from .autograd.tensor import Tensor
    from .backend import to_device

    for st in optimizer.state.values():
        for k, v in list(st.items()):
            if isinstance(v, Tensor):
                st[k] = v.to(device)
            elif isinstance(v, np.ndarray):
                st[k] = to_device(v, device)


def _jsonable_state(state):
    """Drop values the checkpoint cannot hold (e.g. callables in a scheduler's state)."""
    sched = state.get("scheduler")
    if isinstance(sched, dict):
        state["scheduler"] = {k: v for k, v in sched.items() if not callable(v)}
    return state


def _cmd_train(args, models, datasets):
    from .serialization import load
    from .serialization import CheckpointError

    resume_state = None
    if args.resume:
        try:
            resume_state = load(args.resume)
        except (FileNotFoundError, CheckpointError) as e:
            raise CLIError(str(e)) from None
        if not isinstance(resume_state, dict) or resume_state.get("kind") != "mathdl-train":
            raise CLIError(f"{args.resume!r} is not a training checkpoint written by 'mathdl train'")
        cfg = _resolve(args, models, datasets, resume_state["config"])
        run_dir = args.out or os.path.dirname(os.path.abspath(args.resume))
    else:
        cfg = _resolve(args, models, datasets)
        run_dir = args.out or _default_run_dir(cfg)
    _check_config(cfg)
    ckpt = os.path.join(run_dir, CHECKPOINT_NAME)
    history = []
    t0 = time.perf_counter()
    try:
        history = train(cfg, run_dir, resume_state, progress=not args.no_progress, plot=not args.no_plot)
    except KeyboardInterrupt:
        done = _completed_epochs(ckpt)
        print(file=sys.stderr)
        if done:
            print(f"interrupted: the checkpoint of epoch {done} is intact at {ckpt}\n"
                  f"resume with: mathdl train --resume {ckpt}",
                  file=sys.stderr)
        else:
            print("interrupted before the first epoch finished; no checkpoint was written", file=sys.stderr)
        return 130
    except TrainingDiverged as e:
        done = _completed_epochs(ckpt)
        where = f"; the checkpoint of epoch {done} is intact at {ckpt}" if done else ""
        print(f"mathdl train: error: {e} (lr {cfg['lr']:g}); stopped{where}. Try a smaller --lr.", file=sys.stderr)
        return 1
    from .distributed import is_main_process

    if not history or not is_main_process():
        return 0
    last = history[-1]
    if "test_acc" in last:
        print(f"final test accuracy: {last['test_acc']:.4f}"
              + (f" (exact sequence {last['test_seq_acc']:.4f})" if "test_seq_acc" in last else ""))
    if "test_bpc" in last:
        base = _load_spec(cfg).extra.get("baseline_bits_per_char", {})
        print(f"held-out bits per character: model {last['test_bpc']:.3f}"
              + "".join(f", {k} {v:.3f}" for k, v in base.items()))
    elif "test_r2" in last:
        print(f"final test R^2: {last['test_r2']:.4f} (loss {last['test_loss']:.4g})")
    print(f"wrote {ckpt}, {os.path.join(run_dir, METRICS_NAME)}"
          + ("" if args.no_plot else f", {os.path.join(run_dir, PLOT_NAME)}")
          + f" in {time.perf_counter() - t0:.1f} s")
    return 0


def _completed_epochs(ckpt):
    if not os.path.exists(ckpt):
        return 0
    from .serialization import load

    try:
        return int(load(ckpt)["epoch"])
    except Exception:
        return 0


# ============================================================================ evaluation
def confusion_matrix(pred, target, num_classes):
    """M[i, j] = number of examples of true class i predicted as j (targets -100 ignored)."""
    pred = np.asarray(pred).reshape(-1)
    target = np.asarray(target).reshape(-1)
    keep = target != -100
    return np.bincount(target[keep] * num_classes + pred[keep], minlength=num_classes ** 2).reshape(
        num_classes, num_classes)


def _format_matrix(m, labels):
    width = max(len(str(m.max())), max(len(s) for s in labels), 3)
    lines = ["true \\ pred " + " ".join(s.rjust(width) for s in labels)]
    for label, row in zip(labels, m):
        lines.append(label.rjust(12) + " " + " ".join(str(v).rjust(width) for v in row))
    return "\n".join(lines)


def _plot_confusion(m, labels, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(labels)
    fig, ax = plt.subplots(figsize=(max(4, 0.5 * n + 2), max(4, 0.5 * n + 1.5)))
    im = ax.imshow(m, cmap="Blues")
    ax.set_xticks(range(n), labels, rotation=45 if n > 10 else 0)
    ax.set_yticks(range(n), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    if n <= 20:
        for i in range(n):
            for j in range(n):
                ax.text(j, i, str(m[i, j]), ha="center", va="center",
                        color="white" if m[i, j] > m.max() / 2 else "black", fontsize=8)
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def evaluate(checkpoint, split="test", batch_size=256, data_dir=None):
    """(metrics row, confusion matrix or None, spec) for a training checkpoint."""
    from .serialization import load
    from .serialization import CheckpointError

    try:
        state = load(checkpoint)
    except (FileNotFoundError, CheckpointError) as e:
        raise CLIError(str(e)) from None
    if not isinstance(state, dict) or state.get("kind") != "mathdl-train":
        raise CLIError(f"{checkpoint!r} is not a training checkpoint written by 'mathdl train'")
    cfg = state["config"]
    if data_dir:
        cfg["data_options"] = {**cfg.get("data_options", {}), "root": os.path.expanduser(data_dir)}
    _registries()
    spec = _load_spec(cfg)
    model = _build_model(cfg, spec)
    with _mismatch_as_cli_error("evaluate"):
        model.load_state_dict(state["model"])
    dataset = spec.test if split == "test" else spec.train
    row, pred, target = run_epoch_eval(model, dataset, spec, batch_size=batch_size, collect=True)
    matrix = None
    if spec.task != "regression":
        matrix = confusion_matrix(pred, target, spec.num_classes)
    return {"epoch": state["epoch"], **row}, matrix, spec


def evaluate_uncertainty(checkpoint, out=None, data_dir=None):
    """The uncertainty metrics of a training checkpoint's predictive (its --bayes method, if any)."""
    from .bayes.cli_support import evaluate_uncertainty as _score
    from .data import DataLoader
    from .serialization import CheckpointError, load

    try:
        state = load(checkpoint)
    except (FileNotFoundError, CheckpointError) as e:
        raise CLIError(str(e)) from None
    if not isinstance(state, dict) or state.get("kind") != "mathdl-train":
        raise CLIError(f"{checkpoint!r} is not a training checkpoint written by 'mathdl train'")
    cfg = state["config"]
    if data_dir:
        cfg["data_options"] = {**cfg.get("data_options", {}), "root": os.path.expanduser(data_dir)}
    _registries()
    spec = _load_spec(cfg)
    if spec.task != "classification":
        raise CLIError(f"--uncertainty scores classifiers; this checkpoint's task is {spec.task!r}")
    model = _build_model(cfg, spec)
    wrapper = _bayesian(cfg, model, spec)
    with _mismatch_as_cli_error("evaluate"):
        (wrapper.model if wrapper is not None else model).load_state_dict(state["model"])
    if wrapper is not None:
        extra = os.path.join(os.path.dirname(os.path.abspath(checkpoint)), BAYES_NAME)
        if os.path.exists(extra):
            wrapper.load_state_dict(load(extra))
        if cfg["bayes"] == "laplace":
            wrapper.finalize(DataLoader(spec.train, batch_size=256, collate_fn=spec.extra.get("collate_fn")))
    out = out or os.path.dirname(os.path.abspath(checkpoint))
    os.makedirs(out, exist_ok=True)
    return _score(wrapper if wrapper is not None else model, spec, out), cfg


def _cmd_evaluate(args):
    if args.uncertainty:
        res, cfg = evaluate_uncertainty(args.checkpoint, args.out, args.data_dir)
        method = cfg.get("bayes") or "deterministic"
        print(f"checkpoint {args.checkpoint} ({cfg['model']} on {cfg['dataset']}, {method}), test split:")
        for k, v in res.items():
            if isinstance(v, float):
                print(f"  {k:<28} {v:.4f}")
        if res.get("reliability_diagram"):
            print(f"wrote {res['reliability_diagram']}")
        return 0
    row, matrix, spec = evaluate(args.checkpoint, args.split, args.batch_size, args.data_dir)
    print(f"checkpoint {args.checkpoint} (epoch {row['epoch']}), {args.split} split of {spec.extra.get('name', '')}:")
    if "test_acc" in row:
        print(f"accuracy: {row['test_acc']:.4f}  loss: {row['test_loss']:.4f}"
              + (f"  exact-sequence accuracy: {row['test_seq_acc']:.4f}" if "test_seq_acc" in row else ""))
    else:
        print(f"R^2: {row['test_r2']:.4f}  mse: {row['test_loss']:.4f}")
    if matrix is not None:
        labels = [str(s) for s in spec.extra.get("class_names", range(spec.num_classes))][:spec.num_classes]
        if len(labels) < spec.num_classes:
            labels = [str(i) for i in range(spec.num_classes)]
        labels = [s[:10] for s in labels]
        if spec.num_classes <= 30:
            print("confusion matrix (rows: true class, columns: predicted):")
            print(_format_matrix(matrix, labels))
        else:
            print(f"confusion matrix: {spec.num_classes} classes, too many to print (use --plot)")
        if args.plot:
            _plot_confusion(matrix, labels, args.plot, f"{args.split} accuracy {row['test_acc']:.4f}")
            print(f"wrote {args.plot}")
    return 0


def _cmd_list(models, datasets):
    print("models:")
    for name in sorted(models):
        print(f"  {name:16s} {models[name][1]}")
    print("datasets:")
    for name in sorted(datasets):
        print(f"  {name:16s} {datasets[name][1]}")
    return 0


# ============================================================================ entry point
def main(argv=None):
    """Entry point of the ``mathdl`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    models, datasets = _registries()
    try:
        if args.command == "train":
            return _cmd_train(args, models, datasets)
        if args.command == "evaluate":
            return _cmd_evaluate(args)
        if args.command == "list":
            return _cmd_list(models, datasets)
        if getattr(args, "_plugin_run", None) is not None:
            try:
                return args._plugin_run(args) or 0
            except (ValueError, FileNotFoundError) as e:
                raise CLIError(" ".join(str(e).split())) from None
        parser.print_help()
        return 0
    except CLIError as e:
        prog = f"mathdl {args.command}" if args.command else "mathdl"
        print(f"{prog}: error: {e}", file=sys.stderr)
        if args.command == "train":  # under mpiexec, end the other ranks too (they may wait in a collective)
            from .distributed import abort_job

            abort_job(2)
        return 2
    except BrokenPipeError:  # output piped into e.g. `head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
