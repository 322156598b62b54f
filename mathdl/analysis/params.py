"""Parameters as one flat vector, and the loss of a model over a data set.

A model's trainable parameters theta_1..theta_k (each a tensor) are read and written as one vector
theta = concat(vec(theta_1), ..., vec(theta_k)) in float64, the space in which the Hessian, loss
slices and trajectories live.  ``data`` is either one batch ``(x, y)`` or an iterable of batches
(a :class:`mathdl.data.DataLoader`, a list), and the loss over it is the example-weighted mean

    L(theta) = sum_b n_b L_b(theta) / sum_b n_b,   L_b = loss_fn(model(x_b), y_b)  (mean reduction).
"""

from __future__ import annotations

import contextlib

import numpy as np

__all__ = ["trainable_parameters", "get_flat", "set_flat", "unflatten", "batches", "iter_batches", "restored",
           "evaluate_loss", "loss_and_gradient"]


def trainable_parameters(model, params=None):
    """The parameters to analyse: ``params`` if given, else the model's parameters that require grad."""
    ps = list(params) if params is not None else [p for p in model.parameters() if p.requires_grad]
    if not ps:
        raise ValueError("the model has no trainable parameters to analyse")
    return ps


def get_flat(params):
    """theta as one float64 vector (a copy)."""
    return np.concatenate([np.asarray(p.array, dtype=np.float64).ravel() for p in params])


def unflatten(vec, params):
    """Split a flat vector into arrays shaped (and typed) like ``params``."""
    vec = np.asarray(vec)
    n = sum(int(p.array.size) for p in params)
    if vec.shape != (n,):
        raise ValueError(f"a parameter vector must have shape ({n},), got {vec.shape}")
    out, k = [], 0
    for p in params:
        m = int(p.array.size)
        out.append(vec[k:k + m].reshape(p.array.shape).astype(p.array.dtype))
        k += m
    return out


def set_flat(params, vec):
    """Write theta into the parameters' arrays in place (outside the graph)."""
    for p, a in zip(params, unflatten(vec, params)):
        p.array[...] = a


@contextlib.contextmanager
def restored(model):
    """Run the block, then put back the model's parameters, buffers and train/eval mode."""
    saved = {k: np.array(v.array, copy=True) for k, v in model.state_dict(keep_vars=True).items()
             if v is not None and hasattr(v, "array")}
    mode = model.training
    try:
        yield model
    finally:
        for k, v in model.state_dict(keep_vars=True).items():
            if k in saved:
                if isinstance(v.array, np.ndarray) and v.array.ndim:
                    v.array[...] = saved[k]
                else:  # 0-d buffers (counters) may hold NumPy scalars
                    v.array = saved[k].astype(np.asarray(v.array).dtype)
        model.train(mode)


def batches(data):
    """The batches of ``data`` as a list of (x, y) Tensors: one (x, y) pair, or an iterable of them."""
    return list(iter_batches(data))


def iter_batches(data):
    """Yield the (x, y) Tensor batches of ``data`` (one pair, or an iterable such as a DataLoader)."""
    from ..autograd.tensor import Tensor

    def tensor(a):
        return a if isinstance(a, Tensor) else Tensor._make(np.asarray(a))

    if isinstance(data, tuple) and len(data) == 2 and not isinstance(data[0], tuple | list):
        yield tensor(data[0]), tensor(data[1])
        return
    empty = True
    for b in data:
        if not (isinstance(b, tuple | list) and len(b) >= 2):
            raise TypeError(f"data must be an (x, y) pair or an iterable of (x, y) batches, got a batch of "
                            f"type {type(b).__name__}")
        empty = False
        yield tensor(b[0]), tensor(b[1])
    if empty:
        raise ValueError("data holds no batches")


def _default_loss(out, y):
    from ..nn import functional as F

    return F.cross_entropy(out, y)


def evaluate_loss(model, data, loss_fn=None, accuracy=True):
    """(mean loss, accuracy or None) of ``model`` over ``data`` without recording a graph.

    Accuracy counts argmax(out) == y for integer targets (None for float targets)."""
    from ..autograd.grad_mode import no_grad

    loss_fn = loss_fn or _default_loss
    total, correct, count = 0.0, 0, 0
    with no_grad():
        for x, y in iter_batches(data):
            out = model(x)
            n = int(y.shape[0]) if len(y.shape) else 1
            total += float(loss_fn(out, y).item()) * n
            count += n
            if accuracy and np.asarray(y.array).dtype.kind in "iu":
                correct += int((np.asarray(out.array).argmax(-1) == np.asarray(y.array)).sum())
    acc = correct / count if accuracy and count and np.asarray(y.array).dtype.kind in "iu" else None
    return total / count, acc


def loss_and_gradient(model, data, loss_fn=None, params=None):
    """(L(theta), grad L(theta) as a flat float64 vector) over ``data`` (example-weighted mean)."""
    from ..autograd.functional import grad

    loss_fn = loss_fn or _default_loss
    ps = trainable_parameters(model, params)
    total, g, count = 0.0, 0.0, 0
    for x, y in iter_batches(data):
        nb = int(y.shape[0]) if len(y.shape) else 1
        loss = loss_fn(model(x), y)
        gs = grad(loss, ps, allow_unused=True)
        g = g + nb * np.concatenate([np.zeros(p.array.size) if gi is None else
                                     np.asarray(gi.array, dtype=np.float64).ravel() for gi, p in zip(gs, ps)])
        total += nb * float(loss.item())
        count += nb
    return total / count, g / count
