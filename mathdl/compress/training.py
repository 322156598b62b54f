"""The small training loop used to fine-tune compressed networks and to train students:
mini-batch Adam on cross-entropy (or a given loss), and accuracy on held-out arrays."""

from __future__ import annotations

import numpy as np

__all__ = ["fit", "accuracy", "logits_of", "arrays"]


def logits_of(model, x, batch_size=512):
    """The model's outputs on the array ``x`` (no grad, eval mode restored afterwards)."""
    import mathdl as md

    was = model.training
    model.eval()
    outs = []
    with md.no_grad():
        for i in range(0, len(x), batch_size):
            outs.append(model(md.tensor(x[i:i + batch_size])).numpy())
    model.train(was)
    return np.concatenate(outs) if outs else np.zeros((0,))


def accuracy(model, x, y):
    """Fraction of ``x`` whose argmax output equals ``y``."""
    return float((logits_of(model, x).argmax(1) == np.asarray(y)).mean())


def fit(model, x, y, epochs=5, lr=1e-3, batch_size=64, seed=0, loss_fn=None, weight_decay=0.0):
    """Adam on mini-batches of (x, y) for ``epochs``; ``loss_fn(logits, y_tensor, idx)`` defaults
    to cross-entropy (``idx`` are the batch's row indices, for losses that need per-row targets).
    Returns the list of mean losses per epoch."""
    import mathdl as md
    import mathdl.nn.functional as F
    from mathdl.optim import Adam

    rng = np.random.default_rng(seed)
    opt = Adam(list(model.parameters()), lr=lr, weight_decay=weight_decay)
    model.train()
    history = []
    for _ in range(int(epochs)):
        order = rng.permutation(len(x))
        total, count = 0.0, 0
        for i in range(0, len(x), batch_size):
            idx = order[i:i + batch_size]
            logits = model(md.tensor(x[idx]))
            target = md.tensor(np.asarray(y)[idx])
            loss = F.cross_entropy(logits, target) if loss_fn is None else loss_fn(logits, target, idx)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.item()) * len(idx)
            count += len(idx)
        history.append(total / max(count, 1))
    return history


def arrays(dataset):
    """(inputs, targets) of a mathdl Dataset as stacked NumPy arrays (float32 inputs)."""
    xs, ys = zip(*[dataset[i] for i in range(len(dataset))])
    x = np.stack([np.asarray(getattr(v, "array", v)) for v in xs])
    y = np.asarray([np.asarray(getattr(v, "array", v)) for v in ys])
    return (x.astype(np.float32) if x.dtype.kind == "f" else x), y
