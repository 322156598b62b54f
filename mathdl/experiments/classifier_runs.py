"""Small classifiers trained the same way for several claim experiments.

One training loop, written once, for the experiments that compare a single choice (the loss, the
activation, the optimizer, the precision) with everything else held fixed: the same data split,
initialization (``mathdl.manual_seed(seed)`` before the model is built) and batch order (a NumPy
generator seeded by ``seed``).  Minibatch training minimizes

    L(theta) = (1/B) sum_{i in batch} loss(f_theta(x_i), y_i)

with the optimizer given; ``probabilities`` returns softmax(f_theta(x)) for the metrics.
"""

from __future__ import annotations

import numpy as np

__all__ = ["load_arrays", "mlp", "digits_cnn", "train", "probabilities", "accuracy", "full_loss"]


def load_arrays(name, seed=0):
    """(x_train, y_train, x_test, y_test, num_classes) of a registered dataset, float32 / int64."""
    from ..data import load_dataset

    spec = load_dataset(name, seed=seed)
    xtr, ytr = spec.train.arrays
    xte, yte = spec.test.arrays
    return (np.asarray(xtr, np.float32), np.asarray(ytr, np.int64), np.asarray(xte, np.float32),
            np.asarray(yte, np.int64), int(spec.num_classes))


_ACT = {"relu": "ReLU", "swish": "SiLU", "silu": "SiLU", "gelu": "GELU", "prelu": "PReLU", "mish": "Mish",
        "tanh": "Tanh"}


def mlp(sizes, activation="relu", seed=0):
    """Linear -> activation ... -> Linear over ``sizes`` (PReLU: one learnable slope per layer)."""
    import mathdl as md
    from mathdl import nn

    if activation not in _ACT:
        raise ValueError(f"mlp: unknown activation {activation!r}; expected one of {sorted(_ACT)}")
    md.manual_seed(seed)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(getattr(nn, _ACT[activation])())
    return nn.Sequential(*layers)


def digits_cnn(seed=0, num_classes=10):
    """conv 1->8 3x3, ReLU, max-pool 2, conv 8->16 3x3, ReLU, max-pool 2, linear 64->classes on 64 features."""
    import mathdl as md
    from mathdl import nn

    md.manual_seed(seed)
    return nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(64, num_classes))


def _loss(name, logits, target, num_classes):
    import mathdl as md
    import mathdl.nn.functional as F

    if name == "ce":
        return F.cross_entropy(logits, target)
    if name == "focal":
        return F.focal_loss(logits, target, gamma=2.0)
    if name == "mse":  # squared error of the softmax probabilities against one-hot targets (Brier loss)
        onehot = np.eye(num_classes, dtype=np.float32)[target.numpy()]
        return ((F.softmax(logits, dim=1) - md.tensor(onehot)) ** 2).sum(1).mean()
    raise ValueError(f"train: unknown loss {name!r}; expected 'ce', 'focal' or 'mse'")


def train(model, x, y, optimizer, steps, batch=64, seed=0, loss="ce", num_classes=10, every=None, on_check=None,
          step_hook=None):
    """``steps`` minibatch steps; every ``every`` steps calls ``on_check(step)`` and stops if it returns True.

    ``step_hook(closure)`` replaces ``optimizer.step()`` (used for the gradient scaler of mixed precision).
    Returns the per-step batch losses."""
    import mathdl as md

    rng = np.random.default_rng(seed)
    order, pos, losses = rng.permutation(len(x)), 0, []
    model.train()
    for k in range(steps):
        if pos + batch > len(order):
            order, pos = rng.permutation(len(x)), 0
        idx = order[pos:pos + batch]
        pos += batch
        xb, yb = md.tensor(x[idx]), md.tensor(y[idx])
        optimizer.zero_grad()
        if step_hook is not None:
            value = step_hook(lambda xb=xb, yb=yb: _loss(loss, model(xb), yb, num_classes))
        else:
            value = _loss(loss, model(xb), yb, num_classes)
            value.backward()
            optimizer.step()
        losses.append(float(value.item()))
        if not np.isfinite(losses[-1]):
            raise RuntimeError(f"train: the loss became {losses[-1]} at step {k}")
        if every and on_check is not None and (k + 1) % every == 0 and on_check(k + 1):
            break
    model.eval()
    return losses


def probabilities(model, x, chunk=2048):
    """softmax(model(x)) as a float64 array (eval mode, no graph)."""
    import mathdl as md
    import mathdl.nn.functional as F

    model.eval()
    out = []
    with md.no_grad():
        for i in range(0, len(x), chunk):
            out.append(F.softmax(model(md.tensor(x[i:i + chunk])), dim=1).numpy().astype(np.float64))
    return np.concatenate(out)


def accuracy(model, x, y):
    return float((probabilities(model, x).argmax(1) == y).mean())


def full_loss(model, x, y):
    """Mean cross-entropy over the whole set (no graph)."""
    p = probabilities(model, x)
    return float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-300, None)).mean())
