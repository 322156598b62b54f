"""tests/cnn: run BLAS single-threaded.  The conv layers here multiply small matrices, where
OpenBLAS worker threads only cost time, and on a loaded machine (pytest -n 2 next to other
jobs) spinning threads made a digits training step 25x slower."""

import pytest


@pytest.fixture(autouse=True)
def _single_thread_blas():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield
