"""Suite-wide settings.

Each pytest-xdist worker runs its BLAS (and PyTorch) on one thread: with ``-n 2`` on a
2-core machine, two workers with two BLAS threads each oversubscribe the cores and OpenBLAS's
spinning threads then make small matrix products up to 50x slower.
"""

import os

if os.environ.get("PYTEST_XDIST_WORKER"):
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass

os.environ.setdefault("MPLBACKEND", "Agg")
