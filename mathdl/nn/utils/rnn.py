"""Variable-length sequences for recurrent layers: padding and packing (PyTorch's ``nn.utils.rnn``).

A batch of B sequences of lengths L_0 >= L_1 >= ... (sorted by decreasing length) is *packed* as
the time-major concatenation of its active rows:

  data = [x_0[0], x_1[0], ..., x_0[1], x_1[1], ...],   batch_sizes[t] = #{b : L_b > t},

so step t of a recurrent layer reads the batch_sizes[t] rows that follow those of steps < t and
never touches padding.  Unsorted batches are sorted first (``enforce_sorted=False``):
``sorted_indices`` is the order used and ``unsorted_indices`` its inverse permutation, which the
layers apply to the final hidden states and :func:`pad_packed_sequence` to its output.

Packing and unpacking are row gathers and scatters (:func:`mathdl.ops.recurrent.take_rows` /
``put_rows``), each the other's adjoint, so gradients flow through them.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ...autograd.tensor import Tensor
from ...ops.indexing import index_select
from ...ops.recurrent import packed_index, put_rows, take_rows
from ...ops.shape import pad, reshape, stack, transpose

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence", "pack_sequence",
           "unpad_sequence", "unpack_sequence"]

_make = Tensor._make


def _ints(x):
    return np.asarray(x.array if isinstance(x, Tensor) else x).astype(np.int64).reshape(-1)


class _PackedSequenceBase(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None


class PackedSequence(_PackedSequenceBase):
    """(data, batch_sizes, sorted_indices, unsorted_indices) as in PyTorch; see the module docstring.

    ``data`` is (sum of lengths, *); ``batch_sizes`` an int64 tensor of length max(L).
    """

    __slots__ = ()

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if batch_sizes is None:
            raise TypeError("PackedSequence: batch_sizes are required (use pack_padded_sequence or pack_sequence "
                            "to build one)")
        bs = _ints(batch_sizes)
        if data.shape[0] != int(bs.sum()):
            raise ValueError(f"PackedSequence: data has {data.shape[0]} rows but the batch sizes sum to {bs.sum()}")
        if sorted_indices is not None and unsorted_indices is None:
            unsorted_indices = _make(_invert(_ints(sorted_indices)))
        return super().__new__(cls, data, _make(bs), sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        data = self.data.to(*args, **kwargs)
        return self if data is self.data else type(self)(data, self.batch_sizes, self.sorted_indices,
                                                          self.unsorted_indices)

    def float(self):
        return self.to("float32")

    def double(self):
        return self.to("float64")

    @property
    def is_cuda(self):
        return self.data.device != "cpu" if hasattr(self.data, "device") else False

    def is_pinned(self):
        return False


def _invert(perm):
    inv = np.empty_like(perm)
    inv[perm] = np.arange(len(perm), dtype=perm.dtype)
    return inv


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch (T, B, *) (or (B, T, *) with ``batch_first``) of sequences of ``lengths``."""
    lengths = _ints(lengths)
    bdim = 0 if batch_first else 1
    if input.ndim < 2:
        raise ValueError(f"pack_padded_sequence: input must have at least 2 dimensions (time, batch), got shape "
                         f"{tuple(input.shape)}")
    if len(lengths) != input.shape[bdim]:
        raise ValueError(f"pack_padded_sequence: {len(lengths)} lengths for a batch of {input.shape[bdim]} "
                         f"sequences (input shape {tuple(input.shape)}, batch_first={batch_first})")
    if lengths.size and lengths.min() <= 0:
        raise RuntimeError("pack_padded_sequence: every length must be greater than 0, got "
                           f"{lengths.tolist()}")
    tdim = 1 - bdim
    if lengths.size and lengths.max() > input.shape[tdim]:
        raise RuntimeError(f"pack_padded_sequence: a length of {lengths.max()} exceeds the {input.shape[tdim]} "
                           "time steps of the input")
    if enforce_sorted:
        if np.any(np.diff(lengths) > 0):
            raise RuntimeError("pack_padded_sequence: `lengths` must be sorted in decreasing order when "
                               f"enforce_sorted is True, got {lengths.tolist()}; pass enforce_sorted=False "
                               "to pack an unsorted batch")
        sorted_indices = None
    else:
        order = np.argsort(-lengths, kind="stable")
        lengths = lengths[order]
        sorted_indices = order
        input = index_select(input, bdim, _make(order))
    if batch_first:
        input = transpose(input, 0, 1)
    T, B = int(lengths[0]), input.shape[1]
    batch_sizes = (np.arange(T)[:, None] < lengths[None, :]).sum(axis=1)
    rest = tuple(input.shape[2:])
    if input.shape[0] != T:
        input = input[:T]
    data = take_rows(reshape(input, (T * B,) + rest), packed_index(batch_sizes, B))
    si = _make(sorted_indices) if sorted_indices is not None else None
    return PackedSequence(data, _make(batch_sizes), si, _make(_invert(sorted_indices)) if si is not None else None)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """The inverse of :func:`pack_padded_sequence`: (padded (T, B, *) or (B, T, *), lengths)."""
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"pad_packed_sequence: expected a PackedSequence, got {type(sequence).__name__}")
    data, bs = sequence.data, _ints(sequence.batch_sizes)
    T, B = len(bs), int(bs[0])
    if total_length is not None:
        if total_length < T:
            raise ValueError("pad_packed_sequence: expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max sequence length "
                             f"being {T}")
        T_out = int(total_length)
    else:
        T_out = T
    rest = tuple(data.shape[1:])
    padded = put_rows(data, packed_index(bs, B), T_out * B, padding_value)
    padded = reshape(padded, (T_out, B) + rest)
    lengths = (bs[None, :] > np.arange(B)[:, None]).sum(axis=1)
    if sequence.unsorted_indices is not None:
        un = _ints(sequence.unsorted_indices)
        padded = index_select(padded, 1, _make(un))
        lengths = lengths[un]
    if batch_first:
        padded = transpose(padded, 0, 1)
    return padded, _make(lengths.astype(np.int64))


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack tensors of shapes (L_i, *) into (max L, B, *) (or (B, max L, *)), padding with ``padding_value``."""
    if isinstance(sequences, Tensor):
        sequences = list(sequences.unbind(0)) if hasattr(sequences, "unbind") else [sequences]
    sequences = list(sequences)
    if not sequences:
        raise ValueError("pad_sequence: expected a non-empty sequence of tensors")
    if padding_side not in ("right", "left"):
        raise ValueError(f"pad_sequence: padding_side must be 'right' or 'left', got {padding_side!r}")
    rest = tuple(sequences[0].shape[1:])
    for i, s in enumerate(sequences):
        if s.ndim == 0 or tuple(s.shape[1:]) != rest:
            raise ValueError(f"pad_sequence: every tensor must have shape (L, {', '.join(map(str, rest))}); "
                             f"tensor {i} has shape {tuple(s.shape)}")
    T = max(s.shape[0] for s in sequences)
    out = []
    for s in sequences:
        k = T - s.shape[0]
        if k:
            widths = (0, 0) * len(rest) + ((0, k) if padding_side == "right" else (k, 0))
            s = pad(s, widths, value=padding_value)
        out.append(s)
    return stack(out, 0 if batch_first else 1)


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of tensors (L_i, *) (decreasing L_i unless ``enforce_sorted=False``)."""
    sequences = list(sequences)
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The list of the B sequences of a padded batch, each cut to its length."""
    if not batch_first:
        padded_sequences = transpose(padded_sequences, 0, 1)
    return [padded_sequences[i, :int(n)] for i, n in enumerate(_ints(lengths))]


def unpack_sequence(packed_sequences):
    """The list of the sequences in a PackedSequence (in their original order)."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
