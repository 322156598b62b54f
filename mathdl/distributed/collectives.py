"""Collectives on tensors: the same call on every rank combines the ranks' arrays.

With x_r the array on rank r of N:

* ``all_reduce(x, op)``: every rank gets  sum_r x_r  ("sum"),  (1/N) sum_r x_r  ("avg"/"mean"),
  max_r x_r or min_r x_r (elementwise), in place;
* ``broadcast(x, src)``: every rank gets x_src, in place;
* ``all_gather(list, x)``: list[r] = x_r on every rank; ``all_gather_into_tensor`` concatenates
  along axis 0;
* ``reduce_scatter(out, [x_r^0 .. x_r^{N-1}], op)``: rank r gets op over ranks s of x_s^r;
  ``reduce_scatter_tensor`` splits one input along axis 0;
* ``barrier()``: no rank leaves before every rank has entered.

The data travel as raw buffers through mpi4py's upper-case (buffer) methods, never pickled; a
non-contiguous or device (CuPy) array goes through a contiguous host copy.  Every collective is
started non-blocking and polled until :func:`~mathdl.distributed.get_timeout` seconds have
passed, then raises :class:`~mathdl.distributed.DistributedTimeoutError` naming the collective,
instead of waiting forever on a rank that is gone.  In a single-process run they are identities.
"""

from __future__ import annotations

import time

import numpy as np

from .. import backend
from ..autograd.tensor import Tensor
from . import group as _g

__all__ = [
    "ReduceOp", "all_reduce", "broadcast", "all_gather", "all_gather_into_tensor", "reduce_scatter",
    "reduce_scatter_tensor", "barrier", "Work",
]


class ReduceOp:
    """Reduction names (``torch.distributed.ReduceOp``): SUM, AVG, MAX, MIN."""

    SUM = "sum"
    AVG = "avg"
    MAX = "max"
    MIN = "min"


_OPS = {"sum": "SUM", "avg": "SUM", "mean": "SUM", "max": "MAX", "min": "MIN"}


def _op_name(op):
    name = str(op).lower()
    if name not in _OPS:
        raise ValueError(f"unknown reduction op {op!r}; expected one of 'sum', 'avg' (or 'mean'), 'max', 'min'")
    return name


def _mpi_op(name):
    from mpi4py import MPI

    return getattr(MPI, _OPS[name])


_MPI_TYPES = {"f4": "FLOAT", "f8": "DOUBLE", "i1": "INT8_T", "i2": "INT16_T", "i4": "INT32_T", "i8": "INT64_T",
              "u1": "UINT8_T", "u2": "UINT16_T", "u4": "UINT32_T", "u8": "UINT64_T", "b1": "C_BOOL"}


def _mpi_type(dtype):
    """The predefined MPI datatype of a NumPy dtype (reductions accept only predefined types)."""
    from mpi4py import MPI

    name = _MPI_TYPES.get(f"{dtype.kind}{dtype.itemsize}") if dtype.byteorder in "=|" else None
    if name is None:
        raise TypeError(f"distributed collectives support float32/float64, integer and bool arrays, got {dtype}; "
                        "cast to float32 first")
    return getattr(MPI, name)


class Work:
    """A started collective: ``wait()`` polls it to completion (or the timeout) and runs ``then``."""

    __slots__ = ("req", "what", "then")

    def __init__(self, req, what, then=None):
        self.req, self.what, self.then = req, what, then

    def is_completed(self):
        return self.req is None or bool(self.req.Test())

    def wait(self, timeout=None):
        if self.req is not None:
            _wait(self.req, self.what, timeout)
            self.req = None
        if self.then is not None:
            then, self.then = self.then, None
            then()
        return True


def _wait(req, what, timeout=None):
    """Poll ``req`` until done: a short spin, then sleeps growing to 0.25 ms (the CPU stays free for
    the other ranks of an oversubscribed machine, and a finished collective is noticed within a
    fraction of a millisecond), up to the timeout."""
    if req.Test():
        return
    for _ in range(50):
        if req.Test():
            return
    limit = _g.get_timeout() if timeout is None else float(timeout)
    start = time.monotonic()
    delay = 2e-5
    while not req.Test():
        now = time.monotonic()
        if now - start > limit:
            raise _g.DistributedTimeoutError(
                f"{what} on rank {_g.get_rank()} of {_g.get_world_size()} timed out after {limit:g} s: another rank "
                "failed or is stuck before reaching it (set MATHDL_DIST_TIMEOUT to wait longer)"
            )
        time.sleep(delay)
        delay = min(delay * 2, 2.5e-4)


def _array(x, name):
    if isinstance(x, Tensor):
        return x.array
    if isinstance(x, np.ndarray) or backend.device_of(x) != "cpu":
        return x
    raise TypeError(f"{name} must be a Tensor or an array, got {type(x).__name__}")


def _host(arr):
    """(C-contiguous host array, whether results must be copied back into ``arr``)."""
    if isinstance(arr, np.ndarray) and arr.flags.c_contiguous and arr.flags.writeable:
        return arr, False
    return np.ascontiguousarray(backend.to_device(arr, "cpu")), True


def _write_back(x, arr, host):
    if isinstance(x, Tensor):
        if x.array.shape == () or not getattr(x.array, "flags", None) or not x.array.flags.writeable:
            x.array = backend.to_device(host.reshape(arr.shape).copy(), backend.device_of(arr))
        else:
            x.array[...] = backend.to_device(host.reshape(arr.shape), backend.device_of(arr))
        x._mark_modified()
    else:
        arr[...] = backend.to_device(host.reshape(arr.shape), backend.device_of(arr))


def _comm():
    return _g.comm()


def all_reduce(tensor, op=ReduceOp.SUM, async_op=False):
    """Reduce ``tensor`` over all ranks, in place (see the module docstring); returns the tensor,
    or a :class:`Work` whose ``wait()`` completes it when ``async_op``."""
    name = _op_name(op)
    arr = _array(tensor, "all_reduce: tensor")
    comm = _comm()
    if comm is None or comm.Get_size() == 1:
        return Work(None, "all_reduce") if async_op else tensor
    from mpi4py import MPI

    if name in ("avg", "mean") and arr.dtype.kind != "f":
        raise TypeError(f"all_reduce: op {name!r} needs a floating-point tensor, got {arr.dtype}")
    host, copied = _host(arr)
    req = comm.Iallreduce(MPI.IN_PLACE, [host, _mpi_type(host.dtype)], op=_mpi_op(name))
    size = comm.Get_size()

    def finish():
        if name in ("avg", "mean"):
            host[...] /= size
        if copied or isinstance(tensor, Tensor):
            _write_back(tensor, arr, host) if copied else tensor._mark_modified()

    work = Work(req, f"all_reduce({name}, {host.size} x {host.dtype})", finish)
    if async_op:
        return work
    work.wait()
    return tensor


def broadcast(tensor, src=0, async_op=False):
    """Copy rank ``src``'s ``tensor`` into ``tensor`` on every rank, in place."""
    arr = _array(tensor, "broadcast: tensor")
    comm = _comm()
    size = 1 if comm is None else comm.Get_size()
    if not isinstance(src, int) or not 0 <= src < size:
        raise ValueError(f"broadcast: src must be a rank in 0..{size - 1}, got {src!r}")
    if size == 1:
        return Work(None, "broadcast") if async_op else tensor
    host, copied = _host(arr)
    req = comm.Ibcast([host, _mpi_type(host.dtype)], root=src)

    def finish():
        if copied:
            _write_back(tensor, arr, host)
        elif isinstance(tensor, Tensor):
            tensor._mark_modified()

    work = Work(req, f"broadcast(src={src}, {host.size} x {host.dtype})", finish)
    if async_op:
        return work
    work.wait()
    return tensor


def _check_list(tensors, n, like, what):
    if not isinstance(tensors, (list, tuple)) or len(tensors) != n:
        raise ValueError(f"{what}: expected a list of {n} tensors (one per rank), got "
                         f"{len(tensors) if isinstance(tensors, (list, tuple)) else type(tensors).__name__}")
    for i, t in enumerate(tensors):
        a = _array(t, f"{what}[{i}]")
        if tuple(a.shape) != tuple(like.shape) or a.dtype != like.dtype:
            raise ValueError(f"{what}[{i}] has shape {tuple(a.shape)} and dtype {a.dtype}; every entry must match "
                             f"the local tensor's shape {tuple(like.shape)} and dtype {like.dtype}")


def all_gather_into_tensor(output, input):  # noqa: A002  (torch's name)
    """``output`` (shape (N * d0, ...)) = the ranks' ``input`` (shape (d0, ...)) stacked along axis 0."""
    src = _array(input, "all_gather_into_tensor: input")
    dst = _array(output, "all_gather_into_tensor: output")
    comm = _comm()
    n = 1 if comm is None else comm.Get_size()
    want = ((src.shape[0] * n,) + tuple(src.shape[1:])) if src.ndim else (n,)
    if tuple(dst.shape) != want or dst.dtype != src.dtype:
        raise ValueError(f"all_gather_into_tensor: output has shape {tuple(dst.shape)} and dtype {dst.dtype}; "
                         f"expected {want} and {src.dtype} ({n} ranks x input shape {tuple(src.shape)})")
    send = np.ascontiguousarray(backend.to_device(src, "cpu"))
    recv = np.empty(want, dtype=src.dtype)
    if n == 1:
        recv[...] = send.reshape(want)
    else:
        mt = _mpi_type(send.dtype)
        _wait(comm.Iallgather([send, mt], [recv, mt]), f"all_gather({send.size} x {send.dtype})")
    _write_back(output, dst, recv)
    return output


def all_gather(tensor_list, tensor):
    """``tensor_list[r]`` = rank r's ``tensor``, on every rank."""
    arr = _array(tensor, "all_gather: tensor")
    comm = _comm()
    n = 1 if comm is None else comm.Get_size()
    _check_list(tensor_list, n, arr, "all_gather: tensor_list")
    stacked = np.empty((n,) + tuple(arr.shape), dtype=arr.dtype)
    if n == 1:
        stacked[0] = backend.to_device(arr, "cpu")
    else:
        send = np.ascontiguousarray(backend.to_device(arr, "cpu"))
        mt = _mpi_type(send.dtype)
        _wait(comm.Iallgather([send, mt], [stacked, mt]), f"all_gather({send.size} x {send.dtype})")
    for r, t in enumerate(tensor_list):
        _write_back(t, _array(t, "all_gather"), stacked[r])
    return tensor_list


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM):  # noqa: A002  (torch's name)
    """Split ``input`` (shape (N * d0, ...)) into N blocks along axis 0; rank r's ``output`` (shape
    (d0, ...)) = op over ranks of block r."""
    name = _op_name(op)
    src = _array(input, "reduce_scatter_tensor: input")
    dst = _array(output, "reduce_scatter_tensor: output")
    comm = _comm()
    n = 1 if comm is None else comm.Get_size()
    want = (dst.shape[0] * n,) + tuple(dst.shape[1:]) if dst.ndim else (n,)
    if tuple(src.shape) != want or dst.dtype != src.dtype:
        raise ValueError(f"reduce_scatter_tensor: input has shape {tuple(src.shape)} and dtype {src.dtype}; "
                         f"expected {want} and {dst.dtype} ({n} ranks x output shape {tuple(dst.shape)})")
    send = np.ascontiguousarray(backend.to_device(src, "cpu"))
    if name in ("avg", "mean") and dst.dtype.kind != "f":
        raise TypeError(f"reduce_scatter: op {name!r} needs a floating-point tensor, got {dst.dtype}")
    recv = np.empty(dst.shape, dtype=dst.dtype)
    if n == 1:
        recv[...] = send.reshape(dst.shape)
    else:
        mt = _mpi_type(send.dtype)
        req = comm.Ireduce_scatter_block([send, mt], [recv, mt], op=_mpi_op(name))
        _wait(req, f"reduce_scatter({name}, {send.size} x {send.dtype})")
        if name in ("avg", "mean"):
            recv /= n
    _write_back(output, dst, recv)
    return output


def reduce_scatter(output, input_list, op=ReduceOp.SUM):
    """Rank r's ``output`` = op over ranks of their ``input_list[r]``."""
    dst = _array(output, "reduce_scatter: output")
    comm = _comm()
    n = 1 if comm is None else comm.Get_size()
    _check_list(input_list, n, dst, "reduce_scatter: input_list")
    stacked = np.stack([np.asarray(backend.to_device(_array(t, ""), "cpu")) for t in input_list])
    flat_out = np.empty(dst.shape, dtype=dst.dtype)
    reduce_scatter_tensor(flat_out, stacked.reshape((n * dst.shape[0],) + tuple(dst.shape[1:]))
                          if dst.ndim else stacked, op)
    _write_back(output, dst, flat_out)
    return output


def barrier(timeout=None):
    """Wait until every rank has called ``barrier``."""
    comm = _comm()
    if comm is None or comm.Get_size() == 1:
        return
    _wait(comm.Ibarrier(), "barrier", timeout)
