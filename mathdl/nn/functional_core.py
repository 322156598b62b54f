"""The functional forms of layers and activations (``mathdl.nn.functional`` re-exports them).

  linear(x, W, b)       y = x W^T + b
  dropout(x, p)         y = x * m / (1 - p),  m ~ Bernoulli(1 - p)  (identity when not training)
  embedding(idx, W)     y = W[idx]
  layer_norm, batch_norm: see :mod:`mathdl.ops.normalization`
  activations           relu, leaky_relu, prelu, elu, selu, celu, gelu, silu, swish, mish,
                        sigmoid, tanh, hardtanh, relu6, softplus, softsign, softmax, log_softmax
                        (formulas in :mod:`mathdl.ops.activations` and next to each function)

The primitives for linear, dropout and embedding are defined here; their backward passes are
raw BLAS products when no graph is recorded and mathdl ops under ``create_graph``.  ``inplace``
arguments are accepted for PyTorch compatibility and ignored (every result is a new tensor).
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd.function import Function
from ..autograd.grad_mode import state as _grad_state
from ..autograd.tensor import Tensor
from ..backend import xp_of
from ..ops import elementwise as ew
from ..ops import special as _special
from ..ops.activations import elu as _elu
from ..ops.activations import gelu, leaky_relu, mish, silu, softplus
from ..ops.indexing import IndexAdd, one_hot
from ..ops.linalg import matmul
from ..ops.normalization import batch_norm, layer_norm
from ..ops.reduce import norm as _norm
from ..ops.reduce import sum as _sum
from ..ops.shape import cast, pad, permute, reshape, transpose, unsqueeze

__all__ = [
    "linear", "bilinear", "dropout", "alpha_dropout", "embedding", "layer_norm", "batch_norm",
    "relu", "relu6", "leaky_relu", "prelu", "elu", "selu", "celu", "gelu", "silu", "swish", "mish",
    "sigmoid", "tanh", "hardtanh", "hardsigmoid", "hardswish", "softplus", "softsign", "softmax",
    "log_softmax", "logsigmoid", "normalize", "pad", "one_hot",
]

_make = Tensor._make


class LinearFn(Function):
    """y = x @ W^T (+ b), x of shape (..., in), W of shape (out, in), b of shape (out,)."""

    __slots__ = ("has_b",)

    def __init__(self, has_b):
        self.has_b = has_b

    def forward(self, x, w, *b):
        if x.ndim == 2:
            y = x @ w.T
        else:
            y = (x.reshape(-1, w.shape[1]) @ w.T).reshape(x.shape[:-1] + (w.shape[0],))
        if b:
            y += b[0]
        return y

    def backward(self, g):
        x, w = self.inputs[0], self.inputs[1]
        n_in, n_out = w.shape[1], w.shape[0]
        gx = gw = gb = None
        if not _grad_state.enabled:
            g2 = g.data.reshape(-1, n_out)
            if x.requires_grad:
                gx = _make((g2 @ w.data).reshape(x.shape))
            if w.requires_grad:
                gw = _make(g2.T @ x.data.reshape(-1, n_in))
            if self.has_b and self.inputs[2].requires_grad:
                gb = _make(g2.sum(axis=0))
        else:
            g2 = reshape(g, (-1, n_out)) if g.ndim != 2 else g
            if x.requires_grad:
                gx = matmul(g2, w)
                if x.ndim != 2:
                    gx = reshape(gx, x.shape)
            if w.requires_grad:
                x2 = reshape(x, (-1, n_in)) if x.ndim != 2 else x
                gw = matmul(transpose(g2, 0, 1), x2)
            if self.has_b and self.inputs[2].requires_grad:
                gb = _sum(g2, 0)
        return (gx, gw, gb) if self.has_b else (gx, gw)


class DropoutFn(Function):
    """y = x * mask, mask = Bernoulli(1 - p) / (1 - p) (drawn from the seeded generator)."""

    __slots__ = ("p", "saved_mask")

    def __init__(self, p):
        self.p = p

    def forward(self, x):
        xp = xp_of(x)
        gen = backend.rng.for_module(xp)
        keep = gen.random(x.shape, dtype=np.float32) >= self.p
        mask = keep.astype(x.dtype)
        mask *= 1.0 / (1.0 - self.p)
        self.saved_mask = mask
        return x * mask

    def backward(self, g):
        if not _grad_state.enabled:
            return (_make(g.data * self.saved_mask),)
        return (ew.mul(g, _make(self.saved_mask)),)


class EmbeddingFn(Function):
    """y = W[idx] for integer ``idx`` (a constant)."""

    __slots__ = ("idx", "padding_idx")

    def __init__(self, idx, padding_idx):
        self.idx, self.padding_idx = idx, padding_idx

    def forward(self, w):
        return xp_of(w).take(w, self.idx, axis=0)

    def backward(self, g):
        (w,) = self.inputs
        idx = self.idx
        if self.padding_idx is not None:
            keep = (idx != self.padding_idx)[..., None].astype(g.dtype)
            g = ew.mul(g, _make(keep)) if _grad_state.enabled else _make(g.data * keep)
        if not _grad_state.enabled and xp_of(g.data) is np:
            return (_make(_scatter_rows(w.shape, idx, g.data)),)
        return (IndexAdd(w.shape, (idx,), True)(g),)


def _scatter_rows(shape, idx, g):
    """zeros(shape) with the rows of g (..., dim) added at the row indices idx (repeats accumulate).

    Computed as S^T g with S the (M, V) one-hot selection matrix in sparse form: one pass over g,
    about 10x faster than sorting + reduceat and 30x faster than np.add.at.
    """
    from scipy import sparse

    flat = idx.reshape(-1)
    m = flat.size
    g2 = g.reshape(m, shape[1])
    if m == 0:
        return np.zeros(shape, dtype=g.dtype)
    sel = sparse.csr_matrix((np.ones(m, dtype=g.dtype), flat, np.arange(m + 1)), shape=(m, shape[0]))
    return np.ascontiguousarray(sel.T @ g2, dtype=g.dtype)


# =========================================================================== functions

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def linear(x, weight, bias=None):
    """y = x W^T + b for x of shape (..., in_features), W (out_features, in_features)."""
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape {tuple(weight.shape)}")
    if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input of shape {tuple(x.shape)} has {x.shape[-1] if x.ndim else 0} features "
                         f"in its last dimension, but the weight of shape {tuple(weight.shape)} expects "
                         f"{weight.shape[1]}")
    if x.dtype != weight.dtype:
        raise TypeError(f"linear: input dtype {x.dtype} does not match weight dtype {weight.dtype}; convert the "
                        f"input (x.to({str(weight.dtype)!r})) or the module (.to({str(x.dtype)!r}))")
    if bias is not None:
        if tuple(bias.shape) != (weight.shape[0],):
            raise ValueError(f"linear: bias has shape {tuple(bias.shape)}, expected ({weight.shape[0]},)")
        return LinearFn(True)(x, weight, bias)
    return LinearFn(False)(x, weight)


def bilinear(x1, x2, weight, bias=None):
    """y_k = x1^T W_k x2 + b_k for W of shape (out, in1, in2), x1 (..., in1), x2 (..., in2)."""
    if weight.ndim != 3 or x1.shape[-1] != weight.shape[1] or x2.shape[-1] != weight.shape[2]:
        raise ValueError(f"bilinear: inputs of shapes {tuple(x1.shape)} and {tuple(x2.shape)} do not match "
                         f"the weight of shape {tuple(weight.shape)} (out, in1, in2)")
    if x1.shape[:-1] != x2.shape[:-1]:
        raise ValueError(f"bilinear: inputs have different batch shapes {tuple(x1.shape[:-1])} and "
                         f"{tuple(x2.shape[:-1])}")
    out, n1, n2 = weight.shape
    batch = x1.shape[:-1]
    a = reshape(x1, (-1, n1))
    b = reshape(x2, (-1, n2))
    # t[n, k, j] = sum_i a[n, i] W[k, i, j];   y[n, k] = sum_j t[n, k, j] b[n, j]
    t = reshape(matmul(a, reshape(permute(weight, (1, 0, 2)), (n1, out * n2))), (-1, out, n2))
    y = reshape(matmul(t, unsqueeze(b, 2)), (-1, out))
    if bias is not None:
        y = ew.add(y, bias)
    return reshape(y, batch + (out,))


def dropout(x, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero each entry with probability p and scale the rest by 1/(1-p) (identity if not training)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return ew.mul(x, 0.0)
    return DropoutFn(float(p))(x)


def alpha_dropout(x, p: float = 0.5, training: bool = False):
    """Dropout that keeps SELU's zero mean and unit variance: dropped entries become
    alpha' = -scale*alpha, then y = a (x * m + alpha' (1 - m)) + b."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"alpha_dropout: probability must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    alpha_p = -_SELU_ALPHA * _SELU_SCALE
    keep = backend.rng.np.random(x.shape) >= p
    a = ((1 - p) * (1 + p * alpha_p ** 2)) ** -0.5
    b = -a * alpha_p * p
    m = Tensor._make(keep.astype(x.dtype))
    return ew.add(ew.mul(ew.add(ew.mul(x, m), Tensor._make(((1 - keep) * alpha_p).astype(x.dtype))), a), b)


def embedding(input, weight, padding_idx=None):
    """Rows of ``weight`` (num_embeddings, dim) selected by the integer tensor ``input``."""
    idx = input.data if isinstance(input, Tensor) else np.asarray(input)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be an integer tensor, got dtype {idx.dtype}")
    num = weight.shape[0]
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= num:
            bad = hi if hi >= num else lo
            raise IndexError(f"embedding: index {bad} is out of range for num_embeddings={num} "
                             f"(valid indices are 0..{num - 1})")
    if padding_idx is not None and padding_idx < 0:
        padding_idx += num
    return EmbeddingFn(idx, padding_idx)(weight)


# --------------------------------------------------------------------------- activations
def relu(x, inplace: bool = False):
    """max(x, 0)."""
    return ew.relu(x)


def relu6(x, inplace: bool = False):
    """min(max(x, 0), 6)."""
    return ew.clamp(x, 0.0, 6.0)


def hardtanh(x, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
    """clamp(x, min_val, max_val)."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val {min_val} is larger than max_val {max_val}")
    return ew.clamp(x, float(min_val), float(max_val))


def prelu(x, weight):
    """max(x, 0) + a * min(x, 0), with a (shape (1,) or (C,)) learnable; C is axis 1 of the input."""
    n = weight.numel()
    if n != 1:
        if x.ndim < 2 or x.shape[1] != n:
            raise ValueError(f"prelu: weight has {n} slopes but the input of shape {tuple(x.shape)} has "
                             f"{x.shape[1] if x.ndim >= 2 else 1} channels (axis 1)")
        a = reshape(weight, (1, n) + (1,) * (x.ndim - 2))
    else:
        a = reshape(weight, ()) if x.ndim else weight
    # max(x, 0) + a min(x, 0): no boolean selection, derivative 1 or a, and d/da = min(x, 0)
    return ew.add(ew.relu(x), ew.mul(a, ew.clamp(x, max=0.0)))


def elu(x, alpha: float = 1.0, inplace: bool = False):
    """x if x > 0 else alpha (e^x - 1)."""
    return _elu(x, alpha)


def selu(x, inplace: bool = False):
    """scale * elu(x, alpha) with the self-normalizing constants alpha = 1.6733, scale = 1.0507."""
    return _elu(x, _SELU_ALPHA, _SELU_SCALE)


def celu(x, alpha: float = 1.0, inplace: bool = False):
    """max(0, x) + min(0, alpha (e^(x/alpha) - 1))."""
    if alpha == 0:
        raise ValueError("celu: alpha must be non-zero")
    return _elu(x, alpha, 1.0, 1.0 / alpha)


def swish(x, beta=1.0):
    """x * sigmoid(beta x); beta may be a (learnable) tensor.  beta = 1 is SiLU."""
    if isinstance(beta, Tensor):
        return ew.mul(x, ew.sigmoid(ew.mul(x, beta)))
    if beta == 1:
        return silu(x)
    if beta == 0:
        return ew.mul(x, 0.5)
    return ew.div(silu(ew.mul(x, float(beta))), float(beta))


def sigmoid(x):
    """1 / (1 + e^-x)."""
    return ew.sigmoid(x)


def logsigmoid(x):
    """log sigmoid(x) = -softplus(-x)."""
    return ew.neg(softplus(ew.neg(x)))


def tanh(x):
    """(e^x - e^-x) / (e^x + e^-x)."""
    return ew.tanh(x)


def hardsigmoid(x, inplace: bool = False):
    """relu6(x + 3) / 6."""
    return ew.div(ew.clamp(ew.add(x, 3.0), 0.0, 6.0), 6.0)


def hardswish(x, inplace: bool = False):
    """x * relu6(x + 3) / 6."""
    return ew.mul(x, hardsigmoid(x))


def softsign(x):
    """x / (1 + |x|)."""
    return ew.div(x, ew.add(ew.abs(x), 1.0))


def _cast_for(x, dtype):
    return x if dtype is None else cast(x, dtype)


def _softmax_dim(x, dim):
    """PyTorch's legacy default when ``dim`` is omitted: 0 for 0-, 1- and 3-D input, else 1."""
    if dim is None:
        return 0 if x.ndim in (0, 1, 3) else 1
    return dim


def softmax(x, dim=None, dtype=None):
    """exp(x_i) / sum_j exp(x_j) along ``dim`` (computed stably)."""
    return _special.softmax(_cast_for(x, dtype), _softmax_dim(x, dim))


def log_softmax(x, dim=None, dtype=None):
    """x_i - logsumexp(x) along ``dim``."""
    return _special.log_softmax(_cast_for(x, dtype), _softmax_dim(x, dim))


def normalize(x, p: float = 2.0, dim: int = 1, eps: float = 1e-12):
    """x / max(||x||_p, eps) along ``dim``."""
    n = _norm(x, p, dim, keepdim=True)
    return ew.div(x, ew.maximum(n, eps))
