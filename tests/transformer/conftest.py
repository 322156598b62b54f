"""Shared setup for the transformer tests: one BLAS thread per test process.

The suite runs with ``-n 2`` on 2 cores; multi-threaded BLAS in each worker oversubscribes the
cores and makes the small GEMMs of these tests tens of times slower.
"""

import pytest


@pytest.fixture(autouse=True, scope="session")
def _one_blas_thread():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield
