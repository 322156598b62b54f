"""Analysis split over ranks: work items (grid points) or data shards (summed products).

Two ways to share an analysis among N ranks so that it gives the same numbers as one process:

* **Independent work items** (the points of a loss-landscape grid, the seeds of an experiment):
  rank r evaluates the r-th contiguous block of the items (:func:`shard_range`; blocks differ in
  length by at most one) and :func:`map_over_ranks` gathers every result, in item order, on
  every rank.
* **Data shards** (Hessian, GGN or Fisher vector products): for a loss that is a sum over
  examples, L = sum_r L_r with L_r the sum over rank r's shard, so for any vector v

      H v = sum_r H_r v,

  and :func:`allreduce_matvec` turns a rank's shard operator ``matvec`` into the full one.  For a
  mean loss, L = sum_r (n_r / n) L_r with L_r the mean over rank r's n_r examples: pass
  ``weight=n_r`` and the products are combined as sum_r n_r M_r v / sum_r n_r.  The iterative
  eigensolvers (Lanczos, power iteration) that call it then run in lockstep, with the same
  vectors on every rank.
* **Batches of a curvature operator** (:class:`ShardedOperator`, what ``mathdl analyze`` uses):
  a :class:`~mathdl.curvature.CurvatureOperator` over batches b = 0..B-1 is

      M v = sum_b w_b M_b v / W      (mean: w_b = n_b, W = sum_b n_b;  sum: w_b = W = 1),

  rank r computes the products M_b v of its contiguous block of batches, and every rank gets
  them all (one all-gather of B x n numbers per product) and adds them up *in the single-process
  order, in the operator's dtype*: the product is bit for bit the one a single process computes
  (given the same per-batch products, i.e. one BLAS thread per rank), so Lanczos, Hutch++ and SLQ
  give the same numbers for any number of ranks.  ``exact=False`` instead adds each rank's block
  in float64 and all-reduces n numbers (less traffic for many batches; agreement to rounding).
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd.tensor import Tensor
from . import collectives as C
from . import group as _g

__all__ = ["shard_range", "split_work", "map_over_ranks", "allreduce_matvec", "ShardedOperator"]


def shard_range(n, rank=None, world_size=None):
    """This rank's contiguous block ``range(start, stop)`` of ``n`` items (the first n mod N ranks
    take one more)."""
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"shard_range: n must be a non-negative integer, got {n!r}")
    world = _g.get_world_size() if world_size is None else int(world_size)
    rank = _g.get_rank() if rank is None else int(rank)
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"shard_range: rank {rank} is not in 0..{world - 1}")
    base, extra = divmod(int(n), world)
    start = rank * base + min(rank, extra)
    return range(start, start + base + (1 if rank < extra else 0))


def split_work(items):
    """This rank's block of the list ``items``."""
    items = list(items)
    r = shard_range(len(items))
    return items[r.start:r.stop]


def _as_array(value, i):
    if isinstance(value, Tensor):
        value = value.array
    try:
        return np.asarray(backend.to_device(value, "cpu"), dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"map_over_ranks: the result for item {i} is a {type(value).__name__}; "
                        "expected a number or an array") from None


def map_over_ranks(fn, items):
    """``numpy.stack([fn(x) for x in items])`` (float64), each rank computing only its block.

    Every result must have the same shape.  Returns the whole array on every rank.
    """
    items = list(items)
    n = len(items)
    comm = _g.comm()
    world = 1 if comm is None else comm.Get_size()
    mine = shard_range(n, _g.get_rank(), world)
    local = [_as_array(fn(items[i]), i) for i in mine]
    if world == 1:
        return np.stack(local) if local else np.empty((0,), dtype=np.float64)
    if n == 0:
        return np.empty((0,), dtype=np.float64)
    # rank 0 always holds item 0: its result's shape is the shape of every result
    head = np.zeros(9, dtype=np.int64)
    if _g.get_rank() == 0:
        shape = local[0].shape
        if len(shape) > 8:
            raise ValueError(f"map_over_ranks: results of {len(shape)} dimensions; at most 8 are supported")
        head[0] = len(shape)
        head[1:1 + len(shape)] = shape
    C.broadcast(head, src=0)
    shape = tuple(int(s) for s in head[1:1 + head[0]])
    for i, v in zip(mine, local):
        if v.shape != shape:
            raise ValueError(f"map_over_ranks: the result for item {i} has shape {v.shape}, but item 0's has "
                             f"shape {shape}; every result must have the same shape")
    size = int(np.prod(shape))
    send = np.ascontiguousarray(np.stack(local).reshape(-1) if local else np.empty(0))
    counts = [len(shard_range(n, r, world)) * size for r in range(world)]
    displs = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(int).tolist()
    out = np.empty(n * size, dtype=np.float64)
    from mpi4py import MPI

    req = comm.Iallgatherv([send, MPI.DOUBLE], [out, (counts, displs), MPI.DOUBLE])
    C._wait(req, f"map_over_ranks({n} items)")
    return out.reshape((n,) + shape)


def allreduce_matvec(matvec, op="sum", weight=None):
    """The operator v -> op over ranks of ``matvec(v)`` (see the module docstring); with ``weight``
    (this rank's number of examples, for mean losses) v -> sum_r w_r matvec_r(v) / sum_r w_r.

    ``matvec`` may return a Tensor, an array, or a list/tuple of them (one per parameter, as
    ``mathdl.autograd.functional.hvp`` does); the result has the same form.  ``v`` must be the
    same on every rank.
    """
    if not callable(matvec):
        raise TypeError(f"allreduce_matvec: matvec must be callable, got {type(matvec).__name__}")
    C._op_name(op)
    scale = None
    if weight is not None:
        if not isinstance(weight, (int, float, np.integer, np.floating)) or isinstance(weight, bool) or weight < 0:
            raise ValueError(f"allreduce_matvec: weight must be a non-negative number, got {weight!r}")
        total = np.array([float(weight)])
        C.all_reduce(total, "sum")  # collective: every rank builds its operator at the same point
        if not total[0] > 0:
            raise ValueError("allreduce_matvec: the weights sum to 0 over the ranks")
        scale = float(weight) / float(total[0])
        op = "sum"

    def reduced(v):
        out = matvec(v)
        if _g.get_world_size() == 1 and scale is None:
            return out
        parts = list(out) if isinstance(out, (list, tuple)) else [out]
        arrays = [p.array if isinstance(p, Tensor) else p for p in parts]
        host = [np.asarray(backend.to_device(a, "cpu")) for a in arrays]
        dtype = np.result_type(*host) if host else np.float64
        flat = np.concatenate([h.astype(dtype, copy=False).reshape(-1) for h in host])
        if scale is not None:
            flat *= scale
        C.all_reduce(flat, op)
        res, off = [], 0
        for p, a, h in zip(parts, arrays, host):
            piece = flat[off:off + h.size].reshape(h.shape).astype(h.dtype, copy=False)
            off += h.size
            piece = backend.to_device(piece, backend.device_of(a))
            res.append(Tensor._make(piece) if isinstance(p, Tensor) else piece)
        if isinstance(out, (list, tuple)):
            return type(out)(res)
        return res[0]

    return reduced


class ShardedOperator:
    """``ShardedOperator(op, exact=True)``: the products of the curvature operator ``op`` (a
    :class:`~mathdl.curvature.CurvatureOperator`) with its batches split over the ranks (see the
    module docstring).  Has ``matvec``, ``to_linear_operator``, ``shape``, ``dtype``, ``params``,
    ``num_params``, ``num_products`` like ``op``; ``v`` must be the same on every rank."""

    def __init__(self, op, exact=True):
        from ..curvature.base import _batches

        for attr in ("_batch_product", "_check_vector", "params", "reduction"):
            if not hasattr(op, attr):
                raise TypeError(f"ShardedOperator: expected a mathdl.curvature operator, got {type(op).__name__}")
        self.op, self.exact = op, bool(exact)
        self.batches = list(_batches(op.array))  # the same list on every rank (a deterministic loader)
        if not self.batches:
            raise ValueError(f"ShardedOperator: the data of {type(op).__name__} has no batches")
        self.mine = shard_range(len(self.batches))
        self.params, self.num_params, self.shape, self.dtype = op.params, op.num_params, op.shape, op.dtype
        self.kind, self.reduction = getattr(op, "kind", "curvature"), op.reduction
        self.num_products = 0

    def _product(self, i, vs):
        from ..curvature.base import flatten

        x, y, _ = self.batches[i]
        parts = self.op._batch_product(x, y, vs)
        if not self.op._checked and i == self.mine.start:
            self.op._check_determinism(x, y, vs, parts)
        return flatten(parts, self.op._xp())

    def matvec(self, v):
        """M v (a flat array of ``dtype``), the same on every rank."""
        from ..curvature.base import unflatten

        op = self.op
        v = op._check_vector(v)
        xp = op._xp()
        vs = [Tensor._make(a) for a in unflatten(v, op.params)]
        mean = self.reduction == "mean"
        sizes = [b for _, _, b in self.batches]
        if self.exact:
            parts = map_over_ranks(lambda i: self._product(i, vs), range(len(self.batches)))
            total = None
            for i, bsz in enumerate(sizes):  # CurvatureOperator.matvec's sum, term for term
                flat = backend.to_device(parts[i].astype(self.dtype), backend.device_of(v))
                w = bsz if mean else 1
                if total is None:
                    total = flat * w if w != 1 else flat.copy()
                else:
                    total += flat * w if w != 1 else flat
        else:
            local = np.zeros(self.num_params)
            for i in self.mine:
                local += (sizes[i] if mean else 1) * np.asarray(backend.to_device(self._product(i, vs), "cpu"),
                                                                dtype=np.float64)
            C.all_reduce(local, "sum")
            total = backend.to_device(local.astype(self.dtype), backend.device_of(v))
        if mean:
            total /= sum(sizes)
        self.num_products += 1
        op.num_products += 1
        return xp.asarray(total).astype(self.dtype, copy=False)

    __call__ = matvec

    def to_linear_operator(self):
        """A ``scipy.sparse.linalg.LinearOperator`` (NumPy vectors in and out), as ``op``'s."""
        from scipy.sparse.linalg import LinearOperator

        def mv(v):
            return backend.to_device(self.matvec(np.asarray(v).reshape(-1)), "cpu")

        return LinearOperator(self.shape, matvec=mv, rmatvec=mv, dtype=self.dtype)

    def __repr__(self):
        return f"ShardedOperator({self.op!r}, batches={len(self.batches)}, exact={self.exact})"
