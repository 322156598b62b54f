"""DistributedDataParallel: data-parallel training over the ranks of an MPI job.

Every rank holds the same model and computes the gradient g_r of its loss L_r on its own shard
of the batch.  If the global loss is the mean of the N per-rank (mean) losses,

    L = (1/N) sum_r L_r,    grad L = (1/N) sum_r g_r,

so after one all-reduce of the gradients every rank holds grad L and takes the same optimizer
step: N ranks with per-rank batch B/N follow one process with batch B (to float rounding).

* Construction: a checksum of every parameter's and buffer's name, shape and dtype is compared
  across ranks (a mismatch is an error naming the ranks and their sizes), then rank 0's
  parameters and buffers are broadcast, so all ranks start equal.
* Gradients are packed into buckets of about ``bucket_cap_mb`` MB (the first one at most 1 MB, as
  in PyTorch, so that communication starts early), in reverse parameter order (the order backward
  produces them), one dtype per bucket.  A gradient hook on each parameter
  copies its gradient (plus any gradient accumulated under :meth:`no_sync`) into its bucket; a
  full bucket starts a non-blocking all-reduce (buckets start in index order, so every rank
  issues the same sequence of collectives); when the last parameter's gradient arrives the
  reductions are completed, divided by N and written to ``p.grad``.  Every hook also tests the
  reductions in flight, which is what lets MPI progress them while backward computes.  The all-reduces overlap
  the rest of the backward pass when the engine runs a leaf's hooks as soon as its gradient is
  complete (all its graph edges delivered); an engine that runs leaf hooks only when the walk
  ends gives the same gradients, with the all-reduces overlapping only each other.
* Every parameter that requires grad must receive a gradient in every synchronized backward
  (PyTorch's default, ``find_unused_parameters=False``); otherwise the next forward raises an
  error naming the parameters that got none.
* Buffers (BatchNorm running statistics): with ``broadcast_buffers=True`` (the default, as in
  PyTorch) rank 0's buffers are broadcast to every rank at the start of each forward, so the
  running statistics every rank uses, and every checkpoint holds, are rank 0's (updated from
  rank 0's shard only).  Batch statistics in training mode stay per rank (no SyncBatchNorm).
* ``state_dict()`` has the wrapped model's keys with the prefix ``module.`` (as PyTorch);
  checkpoint ``ddp.module.state_dict()`` to load into an unwrapped model.
"""

from __future__ import annotations

import contextlib
import time
import zlib

import numpy as np

from .. import backend
from ..autograd.tensor import Tensor
from ..nn import Module
from . import collectives as C
from . import group as _g

__all__ = ["DistributedDataParallel"]

_FIRST_BUCKET_BYTES = 2 ** 20  # PyTorch's dist._DEFAULT_FIRST_BUCKET_BYTES


class _Bucket:
    __slots__ = ("index", "buffer", "entries", "pending", "work")

    def __init__(self, index, dtype, entries, size):
        self.index = index
        self.buffer = np.empty(size, dtype=dtype)
        self.entries = entries  # [(param position, offset, numel)]
        self.pending = len(entries)
        self.work = None


def _model_signature(module):
    """(crc32 of the names, shapes and dtypes of the parameters and buffers, #tensors, #values)."""
    parts, count, values = [], 0, 0
    for kind, items in (("p", module.named_parameters()), ("b", module.named_buffers())):
        for name, t in items:
            parts.append(f"{kind}:{name}:{tuple(t.shape)}:{t.dtype}")
            count += 1
            values += int(t.array.size)
    return zlib.crc32(";".join(parts).encode()), count, values


class DistributedDataParallel(Module):
    """Wrap ``module`` for data-parallel training (``torch.nn.parallel.DistributedDataParallel``).

    Args:
        module: the model (the same architecture on every rank).
        bucket_cap_mb: gradient bucket size in MB (2**20 bytes).
        broadcast_buffers: broadcast rank 0's buffers at every forward (see the module docstring).
    """

    def __init__(self, module, bucket_cap_mb=25, broadcast_buffers=True):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: module must be a mathdl.nn.Module, got {type(module).__name__}")
        if not isinstance(bucket_cap_mb, (int, float)) or isinstance(bucket_cap_mb, bool) or not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be a positive number, got {bucket_cap_mb!r}")
        _g.init()
        self.module = module
        d = self.__dict__
        d["broadcast_buffers"] = bool(broadcast_buffers)
        d["bucket_cap_mb"] = bucket_cap_mb
        d["require_backward_grad_sync"] = True
        d["world_size"] = _g.get_world_size()
        seen, named = set(), []
        for name, p in module.named_parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                named.append((name, p))
        d["_names"] = [n for n, _ in named]
        d["_params"] = [p for _, p in named]
        d["_buckets"] = self._make_buckets(bucket_cap_mb)
        d["_sync_pass"] = True
        d["_got"] = [False] * len(self._params)
        d["_fired"] = 0
        d["_next"] = 0
        d["_hook_handles"] = []
        d["last_sync_wait_s"] = 0.0  # time the last synchronized backward waited for its all-reduces
        if hasattr(module, "compute_loss"):
            d["compute_loss"] = self._compute_loss
        if self.world_size > 1:
            self._verify_same_model()
            self._broadcast_parameters()
            self._sync_buffers()
            for pos, p in enumerate(self._params):
                self._hook_handles.append(p.register_hook(self._make_hook(pos)))

    # ------------------------------------------------------------------ set-up
    def _make_buckets(self, cap_mb):
        cap = int(cap_mb * 2 ** 20)
        first_cap = min(cap, _FIRST_BUCKET_BYTES)
        buckets, current, size, dtype = [], [], 0, None
        for pos in reversed(range(len(self._params))):
            p = self._params[pos]
            n, dt = int(p.array.size), np.dtype(p.array.dtype)
            limit = first_cap if not buckets else cap
            if current and (dt != dtype or (size + n) * dt.itemsize > limit):
                buckets.append(_Bucket(len(buckets), dtype, current, size))
                current, size = [], 0
            current.append((pos, size, n))
            size += n
            dtype = dt
        if current:
            buckets.append(_Bucket(len(buckets), dtype, current, size))
        self.__dict__["_where"] = {pos: (b, off, n) for b in buckets for pos, off, n in b.entries}
        return buckets

    def _verify_same_model(self):
        crc, count, values = _model_signature(self.module)
        local = np.array([crc, count, values], dtype=np.int64)
        table = np.empty((self.world_size, 3), dtype=np.int64)
        C.all_gather_into_tensor(table.reshape(-1), local)
        bad = [r for r in range(self.world_size) if not np.array_equal(table[r], table[0])]
        if bad:
            r = bad[0]
            raise RuntimeError(
                f"DistributedDataParallel: the model differs across ranks (checksum of parameter names, shapes and "
                f"dtypes): rank {r} has {table[r, 1]} parameter/buffer tensors ({table[r, 2]:,} values), rank 0 has "
                f"{table[0, 1]} ({table[0, 2]:,} values); every rank must build the same model"
            )

    def _broadcast_parameters(self):
        for b in self._buckets:
            for pos, off, n in b.entries:
                b.buffer[off:off + n] = backend.to_device(self._params[pos].array, "cpu").reshape(-1)
            C.broadcast(b.buffer, src=0)
            for pos, off, n in b.entries:
                p = self._params[pos]
                _assign(p, b.buffer[off:off + n])

    def _sync_buffers(self):
        buffers = [b for _, b in self.module.named_buffers() if b is not None]
        groups = {}
        for b in buffers:
            groups.setdefault(np.dtype(b.array.dtype), []).append(b)
        for dtype, items in groups.items():
            flat = np.concatenate([np.asarray(backend.to_device(b.array, "cpu"), dtype=dtype).reshape(-1)
                                   for b in items])
            C.broadcast(flat, src=0)
            off = 0
            for b in items:
                n = int(b.array.size)
                _assign(b, flat[off:off + n])
                off += n

    # ------------------------------------------------------------------ forward
    def forward(self, *inputs, **kwargs):
        self._pre_forward()
        return self.module(*inputs, **kwargs)

    def _compute_loss(self, *args, **kwargs):
        """The wrapped model's own ``compute_loss`` (models whose loss is part of the model), with
        the same bookkeeping as :meth:`forward`."""
        self._pre_forward()
        return self.module.compute_loss(*args, **kwargs)

    def _pre_forward(self):
        if self._fired:
            missing = [self._names[i] for i, got in enumerate(self._got) if not got]
            self._reset_pass()
            raise RuntimeError(
                f"DistributedDataParallel: the previous backward gave no gradient to {len(missing)} parameter(s) "
                f"({', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''}); every parameter that requires "
                "grad must take part in the loss on every rank (set requires_grad=False on unused ones)"
            )
        d = self.__dict__
        d["_sync_pass"] = self.require_backward_grad_sync
        if self.world_size > 1 and self.broadcast_buffers:
            self._sync_buffers()

    @contextlib.contextmanager
    def no_sync(self):
        """Inside this block, backward only accumulates gradients locally (no communication); the
        first backward after it all-reduces the accumulated sum."""
        d = self.__dict__
        old = d["require_backward_grad_sync"]
        d["require_backward_grad_sync"] = False
        try:
            yield
        finally:
            d["require_backward_grad_sync"] = old

    # ------------------------------------------------------------------ gradient synchronization
    def _make_hook(self, pos):
        def hook(grad):
            return self._on_grad(pos, grad)

        return hook

    def _on_grad(self, pos, grad):
        if not self._sync_pass:
            return None
        d = self.__dict__
        if self._got[pos]:  # a second backward into the same pass: start over
            self._reset_pass()
        p = self._params[pos]
        bucket, off, n = self._where[pos]
        view = bucket.buffer[off:off + n].reshape(p.array.shape)
        g = backend.to_device(grad.array, "cpu")
        if p.grad is not None:
            np.add(backend.to_device(p.grad.array, "cpu"), g, out=view)
        else:
            np.copyto(view, g)
        self._got[pos] = True
        d["_fired"] += 1
        for b in self._buckets[:self._next]:  # let MPI progress the reductions in flight
            if b.work is not None and b.work.req is not None and b.work.req.Test():
                b.work.req = None
        bucket.pending -= 1
        if bucket.pending == 0:
            self._launch_ready()
        if self._fired == len(self._params):
            return self._finish(pos)
        return None

    def _launch_ready(self):
        d = self.__dict__
        buckets = self._buckets
        while self._next < len(buckets) and buckets[self._next].pending == 0:
            b = buckets[self._next]
            b.work = C.all_reduce(b.buffer, C.ReduceOp.SUM, async_op=True)
            d["_next"] += 1

    def _finish(self, last_pos):
        """Complete the all-reduces, average, write ``p.grad``; returns the last parameter's
        averaged gradient for the engine to store."""
        t0 = time.perf_counter()
        self._launch_ready()
        inv = 1.0 / self.world_size
        result = None
        for b in self._buckets:
            b.work.wait()
            b.work = None
            b.buffer *= b.buffer.dtype.type(inv)
        self.__dict__["last_sync_wait_s"] = time.perf_counter() - t0
        for b in self._buckets:
            for pos, off, n in b.entries:
                p = self._params[pos]
                g = Tensor._make(backend.to_device(b.buffer[off:off + n].reshape(p.array.shape).copy(),
                                                   backend.device_of(p.array)))
                if pos == last_pos:
                    result = g
                    p.grad = None  # the engine stores ``result`` into it after this hook
                else:
                    p.grad = g
        self._reset_pass()
        return result

    def _reset_pass(self):
        d = self.__dict__
        for b in self._buckets:
            if b.work is not None:
                b.work.wait()
                b.work = None
            b.pending = len(b.entries)
        d["_got"] = [False] * len(self._params)
        d["_fired"] = 0
        d["_next"] = 0

    def extra_repr(self):
        return (f"world_size={self.world_size}, buckets={len(self._buckets)}, bucket_cap_mb={self.bucket_cap_mb}, "
                f"broadcast_buffers={self.broadcast_buffers}")


def _assign(t, flat):
    """Write ``flat`` (a host array) into tensor ``t``'s data in place when possible."""
    arr = t.array
    value = flat.reshape(arr.shape)
    if isinstance(arr, np.ndarray) and arr.flags.writeable and arr.shape != ():
        arr[...] = value
    else:
        t.array = backend.to_device(value.astype(arr.dtype, copy=True), backend.device_of(arr))
    t._version += 1
