"""mathdl/ops/layout_kernels.py: to_nhwc copies NCHW and channel-major arrays into channels-last
memory, the same values as NumPy's copy, serially and on the OpenMP team."""

import numpy as np
import pytest

from mathdl import parallel
from mathdl.ops import layout_kernels as lk


def _layouts(shape, dtype, seed=0):
    a = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    yield "nchw", a
    yield "cnhw", np.ascontiguousarray(a.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    yield "cropped", np.pad(a, ((0, 0), (0, 0), (1, 1), (2, 3)))[:, :, 1:-1, 2:-3]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3, 5, 7, 9), (8, 16, 32, 32), (2, 3, 64, 64)])
@pytest.mark.parametrize("threads", [1, 2])
def test_to_nhwc_equals_numpy(shape, dtype, threads):
    old = parallel.get_num_threads()
    parallel.set_num_threads(threads)
    try:
        for name, a in _layouts(shape, dtype):
            out = lk.to_nhwc(a)
            assert out.flags.c_contiguous and out.dtype == a.dtype and out.shape == (shape[0], shape[2], shape[3],
                                                                                     shape[1])
            np.testing.assert_array_equal(out, a.transpose(0, 2, 3, 1), err_msg=name)
    finally:
        parallel.set_num_threads(old)


def test_the_compiled_loop_is_used_for_large_arrays_only():
    a = np.zeros((8, 16, 32, 32), np.float32)
    assert lk._usable(a) == (lk._k is not False)
    assert not lk._usable(a[:1, :1])  # small
    assert not lk._usable(a.astype(np.int64))
    assert not lk._usable(a[..., ::2])  # rows not contiguous
    assert not lk._usable(np.broadcast_to(np.zeros((1, 16, 32, 1), np.float32), a.shape))
    b = np.broadcast_to(np.arange(16.0)[None, :, None, None], (4, 16, 32, 32))
    np.testing.assert_array_equal(lk.to_nhwc(b), b.transpose(0, 2, 3, 1))  # NumPy's copy then


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 2])
def test_nhwc_into_cnhw_equals_numpy_also_into_a_padded_block(dtype, threads):
    old = parallel.get_num_threads()
    parallel.set_num_threads(threads)
    try:
        a = np.random.default_rng(1).standard_normal((8, 16, 12, 20)).astype(dtype)
        x = np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)  # channels-last memory
        out = lk.nhwc_into_cnhw(x, np.empty((16, 8, 12, 20), dtype))
        np.testing.assert_array_equal(out, a.transpose(1, 0, 2, 3))
        buf = np.full((16, 8, 14, 23), 7.0, dtype)
        lk.nhwc_into_cnhw(x, buf[:, :, 1:13, 2:22])
        np.testing.assert_array_equal(buf[:, :, 1:13, 2:22], a.transpose(1, 0, 2, 3))
        assert (buf[:, :, 0] == 7).all() and (buf[..., :2] == 7).all() and (buf[..., 22:] == 7).all()
        nchw = lk.nhwc_into_cnhw(a, np.empty((16, 8, 12, 20), dtype))  # not channels-last: NumPy's copy
        np.testing.assert_array_equal(nchw, a.transpose(1, 0, 2, 3))
    finally:
        parallel.set_num_threads(old)
