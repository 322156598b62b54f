"""mathdl/ops/winograd_weight_kernels.py: the separable kernel transform U = G w G^T and its adjoint
dW = G^T dU G equal the (G kron G) products they replace, and the adjoint is the transform's
transpose (<U(w), dU> = <w, dW(dU)>); the flipped kernel's transform is laid out for the pipelines."""

import numpy as np
import pytest

from mathdl.ops import winograd as wg
from mathdl.ops import winograd_weight_kernels as wk

pytestmark = pytest.mark.skipif(not wk.kernels(), reason="numba is not installed (or MATHDL_NO_NUMBA)")


@pytest.mark.parametrize("m", [2, 4])
@pytest.mark.parametrize("shape", [(3, 5), (16, 16), (7, 1)])
def test_transform_and_adjoint_equal_the_kron_products(m, shape):
    rng = np.random.default_rng(m)
    O, C = shape
    w = rng.standard_normal((O, C, 3, 3))
    GG = wg._gg(m, np.float64)
    U = wg.kernel_transform(w, m)
    np.testing.assert_allclose(U, (GG @ w.reshape(O * C, 9).T).reshape(-1, O, C), rtol=1e-13, atol=1e-14)
    dU = rng.standard_normal(U.shape)
    dW = wg._weight_from_winograd(dU)
    np.testing.assert_allclose(dW, (dU.reshape(len(GG), -1).T @ GG).reshape(O, C, 3, 3), rtol=1e-13, atol=1e-13)
    assert np.isclose(np.vdot(U, dU), np.vdot(w, dW), rtol=1e-12)  # adjoint: <G w G^T, dU> = <w, G^T dU G>


def test_float32_stays_float32_and_close_to_float64():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((32, 16, 3, 3))
    U32 = wg.kernel_transform(w.astype(np.float32), 4)
    assert U32.dtype == np.float32
    U64 = wg.kernel_transform(w, 4)
    assert np.abs(U32 - U64).max() <= 1e-6 * np.abs(U64).max()


def test_adjoint_transform_of_the_flipped_kernel_is_a_view_of_contiguous_memory():
    rng = np.random.default_rng(2)
    w = rng.standard_normal((8, 8, 3, 3)).astype(np.float32)
    U = wg.kernel_transform(w, 4)
    wf = w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1]
    Uf = wg.adjoint_transform(U, wf)
    assert Uf.shape == (36, 8, 8) and Uf.transpose(0, 2, 1).flags.c_contiguous
    np.testing.assert_allclose(Uf, wg.kernel_transform(np.ascontiguousarray(wf), 4), rtol=1e-6, atol=1e-6)
