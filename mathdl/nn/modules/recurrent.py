"""Recurrent layers: ``RNN`` (tanh or ReLU), ``LSTM`` (optionally with projections), ``GRU`` and
their single-step cells, with PyTorch's parameters, layouts and semantics.

For layer l and direction d (suffix ``_reverse`` for the backward direction of a bidirectional
layer) the parameters are, with G gate blocks (RNN 1, GRU 3 in order r z n, LSTM 4 in order i f
g o), H = hidden_size and H_out = proj_size or H:

  weight_ih_l{l}   (G H, input size of the layer)   input size: input_size for l = 0, else D H_out
  weight_hh_l{l}   (G H, H_out)
  bias_ih_l{l}, bias_hh_l{l}   (G H,)                (if ``bias``)
  weight_hr_l{l}   (proj_size, H)                    (LSTM with proj_size > 0)

all initialised from U(-1/sqrt(H), 1/sqrt(H)), so state dicts copy to and from PyTorch.  The
formulas of the cells are in :mod:`mathdl.ops.recurrent`.  A layer computes the input projections
a_t = W_ih x_t + b_ih of all time steps with one matrix product, then runs the recurrence (one
fused primitive per layer and direction); the backward direction reads the sequence from its end.
Layer l > 0 reads the concatenated outputs of both directions of layer l - 1, after dropout
(training mode, all layers but the last).

Shapes (D = 2 if bidirectional else 1, L = num_layers): input (T, B, input_size) or (B, T, ...)
with ``batch_first``, (T, input_size) unbatched, or a :class:`~mathdl.nn.utils.rnn.PackedSequence`;
h_0, h_n (D L, B, H_out), c_0, c_n (D L, B, H); output (T, B, D H_out) holding the top layer's
state at every step (packed likewise when the input is packed).
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from ... import backend
from ...autograd.tensor import Tensor
from ...ops.recurrent import GATES, packed_index, recurrence, take_rows
from ...ops.shape import cat, reshape, squeeze, stack, transpose, unsqueeze
from .. import functional as F
from .. import init
from ..utils.rnn import PackedSequence
from .module import Module, Parameter

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_make = Tensor._make


def _empty(shape, dtype):
    return np.empty(shape, dtype=backend.as_dtype(dtype))


def _check_size(name, value, allow_zero=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} should be of type int, got: {type(value).__name__}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be greater than zero, got {value}")
    return int(value)


def _zeros(shape, like):
    return _make(backend.xp_of(like.array).zeros(shape, dtype=like.dtype))


def _permute_batch(t, indices):
    """t[:, indices] for a state (D L, B, H) and a permutation of the batch (a row gather)."""
    idx = np.asarray(indices.array if isinstance(indices, Tensor) else indices)
    return transpose(take_rows(transpose(t, 0, 1), idx), 0, 1)


class RNNBase(Module):
    """The multi-layer, optionally bidirectional recurrent layer behind RNN, LSTM and GRU.

    ``mode`` is one of ``"RNN_TANH"``, ``"RNN_RELU"``, ``"LSTM"``, ``"GRU"``.
    """

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        if mode not in GATES:
            raise ValueError(f"Unrecognized RNN mode: {mode!r}; expected one of {tuple(GATES)}")
        name = type(self).__name__
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout should be a number in range [0, 1] representing the probability of "
                             f"an element being zeroed, got {dropout!r}")
        self.mode = mode
        self.input_size = _check_size("input_size", input_size, allow_zero=True)
        self.hidden_size = _check_size("hidden_size", hidden_size)
        self.num_layers = _check_size("num_layers", num_layers)
        proj_size = _check_size("proj_size", proj_size, allow_zero=True)
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if proj_size >= self.hidden_size:
            raise ValueError(f"proj_size has to be smaller than hidden_size, got proj_size={proj_size} and "
                             f"hidden_size={self.hidden_size}")
        if dropout > 0 and self.num_layers == 1:
            warnings.warn(f"dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and "
                          f"num_layers={num_layers}", stacklevel=2)
        self.bias, self.batch_first = bool(bias), bool(batch_first)
        self.dropout, self.bidirectional, self.proj_size = float(dropout), bool(bidirectional), proj_size
        D = 2 if self.bidirectional else 1
        G, H = GATES[mode], self.hidden_size
        H_out = proj_size or H
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(self.num_layers):
            for d in range(D):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                in_size = self.input_size if layer == 0 else H_out * D
                shapes = [("weight_ih" + sfx, (G * H, in_size)), ("weight_hh" + sfx, (G * H, H_out))]
                if self.bias:
                    shapes += [("bias_ih" + sfx, (G * H,)), ("bias_hh" + sfx, (G * H,))]
                if proj_size:
                    shapes.append(("weight_hr" + sfx, (proj_size, H)))
                for pname, shape in shapes:
                    setattr(self, pname, Parameter(_empty(shape, dtype)))
                names = [n for n, _ in shapes]
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()
        if device is not None and device != "cpu":
            self.to(device)

    def reset_parameters(self):
        """Every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch."""
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -stdv, stdv)

    @property
    def all_weights(self):
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    @property
    def _flat_weights(self):
        return [getattr(self, n) for n in self._flat_weights_names]

    def flatten_parameters(self):
        """Accepted for PyTorch compatibility (the weights are always used as they are)."""

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s

    # -- input checks ---------------------------------------------------------------------
    def _check_hidden(self, h, expected, what):
        if tuple(h.shape) != tuple(expected):
            raise RuntimeError(f"{type(self).__name__}: Expected {what} size {tuple(expected)}, got {tuple(h.shape)}")
        if h.dtype != self.weight_ih_l0.dtype:
            raise TypeError(f"{type(self).__name__}: {what} has dtype {h.dtype} but the weights have dtype "
                            f"{self.weight_ih_l0.dtype}")

    def _initial_states(self, hx, B, batched, sorted_indices, like):
        """[(h0, c0 or None)] per layer and direction, each (B, H_out) / (B, H)."""
        name = type(self).__name__
        D = 2 if self.bidirectional else 1
        LD, H = self.num_layers * D, self.hidden_size
        H_out = self.proj_size or H
        lstm = self.mode == "LSTM"
        if hx is None:
            return [(_zeros((B, H_out), like), _zeros((B, H), like) if lstm else None) for _ in range(LD)]
        if lstm:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"{name}: hx must be a tuple (h_0, c_0), got {type(hx).__name__}")
            h0, c0 = hx
        else:
            if isinstance(hx, (tuple, list)):
                raise TypeError(f"{name}: hx must be a tensor, got a {type(hx).__name__}")
            h0, c0 = hx, None
        want = 3 if batched else 2
        for t, what in ((h0, "h_0"), (c0, "c_0")):
            if t is not None and t.ndim != want:
                kind = "batched 3-D" if batched else "unbatched 2-D"
                raise RuntimeError(f"{name}: for {kind} input, {what} should be {want}-D but got a {t.ndim}-D tensor")
        if not batched:
            h0 = unsqueeze(h0, 1)
            c0 = unsqueeze(c0, 1) if c0 is not None else None
        self._check_hidden(h0, (LD, B, H_out), "hidden" if not lstm else "hidden[0]")
        if c0 is not None:
            self._check_hidden(c0, (LD, B, H), "hidden[1]")
        if sorted_indices is not None:
            h0 = _permute_batch(h0, sorted_indices)
            c0 = _permute_batch(c0, sorted_indices) if c0 is not None else None
        return [(h0[k], c0[k] if c0 is not None else None) for k in range(LD)]

    # -- forward --------------------------------------------------------------------------
    def forward(self, input, hx=None):
        name = type(self).__name__
        w0 = self.weight_ih_l0
        packed = isinstance(input, PackedSequence)
        if packed:
            x, batch_sizes, sorted_indices, unsorted_indices = input
            sizes = tuple(int(b) for b in np.asarray(batch_sizes.array).reshape(-1))
            T, B, batched = len(sizes), sizes[0], True
            if x.ndim != 2:
                raise ValueError(f"{name}: packed data must be 2-D (sum of lengths, input_size), got shape "
                                 f"{tuple(x.shape)}")
        else:
            if not isinstance(input, Tensor):
                raise TypeError(f"{name}: input must be a Tensor or a PackedSequence, got {type(input).__name__}")
            if input.ndim not in (2, 3):
                raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.ndim}D instead")
            batched = input.ndim == 3
            x = input
            if not batched:
                x = unsqueeze(x, 1)
            elif self.batch_first:
                x = transpose(x, 0, 1)
            T, B = x.shape[0], x.shape[1]
            sizes = sorted_indices = unsorted_indices = None
            if T == 0:
                raise ValueError(f"{name}: the input sequence is empty (0 time steps)")
        if x.shape[-1] != self.input_size:
            raise RuntimeError(f"{name}: input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                               f"got {x.shape[-1]}")
        if x.dtype != w0.dtype:
            raise TypeError(f"{name}: input has dtype {x.dtype} but the weights have dtype {w0.dtype}")
        states = self._initial_states(hx, B, batched, sorted_indices, x)
        out, h_n, c_n = self._run(x, states, sizes, T, B)
        if packed:
            output = PackedSequence(out, batch_sizes, sorted_indices, unsorted_indices)
            if unsorted_indices is not None:
                h_n = _permute_batch(h_n, unsorted_indices)
                c_n = _permute_batch(c_n, unsorted_indices) if c_n is not None else None
        else:
            output = out
            if not batched:
                output = squeeze(output, 1)
                h_n = squeeze(h_n, 1)
                c_n = squeeze(c_n, 1) if c_n is not None else None
            elif self.batch_first:
                output = transpose(output, 0, 1)
        return output, ((h_n, c_n) if self.mode == "LSTM" else h_n)

    def _run(self, x, states, sizes, T, B):
        """Every layer and direction: (top output, h_n, c_n)."""
        D = 2 if self.bidirectional else 1
        lstm = self.mode == "LSTM"
        P = self.proj_size or self.hidden_size
        pidx = packed_index(sizes, B) if sizes is not None else None
        h_n, c_n = [], []
        layer_in = x
        for layer in range(self.num_layers):
            outs = []
            for d in range(D):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                w_ih, w_hh = getattr(self, "weight_ih" + sfx), getattr(self, "weight_hh" + sfx)
                b_ih = getattr(self, "bias_ih" + sfx) if self.bias else None
                b_hh = getattr(self, "bias_hh" + sfx) if self.bias else None
                w_hr = getattr(self, "weight_hr" + sfx) if self.proj_size else None
                h0, c0 = states[layer * D + d]
                xw = F.linear(layer_in, w_ih, b_ih)
                z = recurrence(self.mode, xw, h0, w_hh, b_hh, c0, w_hr, reverse=bool(d), batch_sizes=sizes)
                last = z[0] if d else z[T - 1]
                if lstm:
                    h_n.append(last[:, :P])
                    c_n.append(last[:, P:])
                    z = z[:, :, :P]
                else:
                    h_n.append(last)
                if pidx is not None:
                    z = take_rows(reshape(z, (T * B, P)), pidx)
                outs.append(z)
            layer_in = cat(outs, -1) if D == 2 else outs[0]
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_in = F.dropout(layer_in, self.dropout, True)
        return layer_in, stack(h_n, 0), (stack(c_n, 0) if lstm else None)


class RNN(RNNBase):
    """Elman RNN: h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), act = tanh or ReLU (``nonlinearity``)."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity {nonlinearity!r}. Select from 'tanh' or 'relu'.")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, 0, device, dtype)
        self.nonlinearity = nonlinearity

    def extra_repr(self):
        s = super().extra_repr()
        return s + (", nonlinearity='relu'" if self.nonlinearity == "relu" else "")


class LSTM(RNNBase):
    """Long short-term memory: gates i f g o, c_t = f c_{t-1} + i g, h_t = o tanh(c_t) (W_hr-projected
    to ``proj_size`` if > 0).  forward(input, (h_0, c_0)) -> (output, (h_n, c_n))."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device, dtype)


class GRU(RNNBase):
    """Gated recurrent unit: gates r z, n = tanh(W_in x + b_in + r (W_hn h + b_hn)), h' = (1 - z) n + z h."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, 0,
                         device, dtype)


# --------------------------------------------------------------------------- cells
class RNNCellBase(Module):
    """One step of a recurrent cell: weight_ih (G H, input_size), weight_hh (G H, H), bias_ih, bias_hh (G H,)."""

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size = _check_size("input_size", input_size, allow_zero=True)
        self.hidden_size = _check_size("hidden_size", hidden_size)
        self.bias = bool(bias)
        G, H = int(num_chunks), self.hidden_size
        self.weight_ih = Parameter(_empty((G * H, self.input_size), dtype))
        self.weight_hh = Parameter(_empty((G * H, H), dtype))
        if self.bias:
            self.bias_ih = Parameter(_empty((G * H,), dtype))
            self.bias_hh = Parameter(_empty((G * H,), dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()
        if device is not None and device != "cpu":
            self.to(device)

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -stdv, stdv)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity!r}"
        return s

    def _step(self, mode, input, hx):
        """(h', c' or None) for one step; hx is h (or (h, c)) or None for zeros."""
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(input).__name__}")
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"{name}: input has inconsistent input_size: got {input.shape[-1]} expected "
                               f"{self.input_size}")
        if input.dtype != self.weight_ih.dtype:
            raise TypeError(f"{name}: input has dtype {input.dtype} but the weights have dtype {self.weight_ih.dtype}")
        batched = input.ndim == 2
        x = input if batched else unsqueeze(input, 0)
        B, H = x.shape[0], self.hidden_size
        lstm = mode == "LSTM"
        if hx is None:
            h, c = _zeros((B, H), x), (_zeros((B, H), x) if lstm else None)
        else:
            if lstm:
                if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                    raise TypeError(f"{name}: hx must be a tuple (h, c), got {type(hx).__name__}")
                h, c = hx
            else:
                h, c = hx, None
            for t, what in ((h, "hidden"), (c, "cell state")):
                if t is None:
                    continue
                if t.ndim != input.ndim:
                    raise RuntimeError(f"{name}: {what} should be {input.ndim}-D like the input, got shape "
                                       f"{tuple(t.shape)}")
                if tuple(t.shape[-1:]) != (H,) or (batched and t.shape[0] != B):
                    want = (B, H) if batched else (H,)
                    raise RuntimeError(f"{name}: Expected {what} size {want}, got {tuple(t.shape)}")
                if t.dtype != self.weight_ih.dtype:
                    raise TypeError(f"{name}: {what} has dtype {t.dtype} but the weights have dtype "
                                    f"{self.weight_ih.dtype}")
            if not batched:
                h = unsqueeze(h, 0)
                c = unsqueeze(c, 0) if c is not None else None
        xw = unsqueeze(F.linear(x, self.weight_ih, self.bias_ih), 0)
        z = recurrence(mode, xw, h, self.weight_hh, self.bias_hh, c)[0]
        if lstm:
            h, c = z[:, :H], z[:, H:]
        else:
            h, c = z, None
        if not batched:
            h = squeeze(h, 0)
            c = squeeze(c, 0) if c is not None else None
        return h, c


class RNNCell(RNNCellBase):
    """h' = act(W_ih x + b_ih + W_hh h + b_hh), act = tanh or ReLU."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity!r}. Select from 'tanh' or 'relu'.")
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        return self._step("RNN_TANH" if self.nonlinearity == "tanh" else "RNN_RELU", input, hx)[0]


class LSTMCell(RNNCellBase):
    """(h', c') from (x, (h, c)): gates i f g o, c' = f c + i g, h' = o tanh(c')."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):
        return self._step("LSTM", input, hx)


class GRUCell(RNNCellBase):
    """h' = (1 - z) n + z h with gates r z and n = tanh(W_in x + b_in + r (W_hn h + b_hn))."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):
        return self._step("GRU", input, hx)[0]
