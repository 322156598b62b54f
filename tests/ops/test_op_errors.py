"""Bad input: each op raises the right error type, and the message names the op and what is
wrong (the shapes or dtypes involved)."""

from __future__ import annotations

import re

import numpy as np
import pytest

import mathdl as md
import mathdl.linalg as mla


def t(*shape, dtype=np.float64):
    return md.tensor(np.ones(shape, dtype=dtype))


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "pow"])
def test_binary_mismatch_names_op_and_both_shapes(name):
    with pytest.raises(ValueError, match=rf"{name}: shapes \(2, 3\) and \(4,\) cannot be broadcast"):
        getattr(md, name)(t(2, 3), t(4))


def test_operator_mismatch_names_shapes():
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(2,\)"):
        t(2, 3) + t(2)


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_mismatch(name):
    with pytest.raises(ValueError, match=rf"{name}: shapes \(2, 3\) and \(4,\)"):
        getattr(md, name)(t(2, 3), t(4))


def test_where_mismatch():
    with pytest.raises(ValueError, match=r"where: .*\(2, 3\).*\(4,\)"):
        md.where(np.ones((2, 3), bool), t(2, 3), t(4))


def test_matmul_misaligned():
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\) do not align"):
        md.matmul(t(2, 3), t(4, 5))
    with pytest.raises(ValueError, match=r"matmul: .*\(3,\) and \(4,\)"):
        md.matmul(t(3), t(4))
    with pytest.raises(ValueError, match=r"matmul: .*at least 1 dimension"):
        md.matmul(t(), t(3))
    with pytest.raises(ValueError, match=r"matmul: .*batch.*\(2, 2, 3\).*\(3, 3, 2\)"):
        md.matmul(t(2, 2, 3), t(3, 3, 2))


@pytest.mark.parametrize("name,a,b", [("mm", (3,), (3, 2)), ("bmm", (2, 3), (3, 2)), ("dot", (2, 3), (3,))])
def test_product_rank_errors(name, a, b):
    with pytest.raises(ValueError, match=re.escape(f"{name}: expected") + ".*" + re.escape(str(a))):
        getattr(md, name)(t(*a), t(*b))


@pytest.mark.parametrize("eq,shapes,pattern", [
    ("ij,jk->ik", [(2, 3)], r"2 operand subscripts but 1 operands"),
    ("ijk->i", [(2, 3)], r"'ijk' names 3 dimensions but the operand has shape \(2, 3\)"),
    ("ij,jk->ik", [(2, 3), (4, 5)], r"index 'j' has size 3 in one operand and 4"),
    ("i->ii", [(3,)], r"repeats a letter"),
    ("i->j", [(3,)], r"output index 'j' appears in no operand"),
    ("i1->i", [(3,)], r"invalid subscript"),
])
def test_einsum_errors(eq, shapes, pattern):
    with pytest.raises(ValueError, match=r"einsum: .*" + pattern):
        md.einsum(eq, *[t(*s) for s in shapes])


def test_einsum_needs_tensors():
    with pytest.raises(TypeError, match="einsum: operand 1 is a ndarray"):
        md.einsum("i,i->", t(3), np.ones(3))


def test_reshape_error():
    with pytest.raises(ValueError, match=r"reshape: cannot reshape a tensor of shape \(2, 3\) \(6 elements\) into"):
        md.reshape(t(2, 3), (4, 2))


def test_cat_and_stack_errors():
    with pytest.raises(ValueError, match=r"cat: .*tensor 0 has shape \(2, 3\), tensor 1 has shape \(2, 4\)"):
        md.cat([t(2, 3), t(2, 4)], 0)
    with pytest.raises(ValueError, match=r"stack: .*\(2, 3\).*\(3, 2\)"):
        md.stack([t(2, 3), t(3, 2)])


def test_permute_and_broadcast_errors():
    with pytest.raises(ValueError, match=r"permute: \(0, 0\) is not a permutation .*\(2, 3\)"):
        md.permute(t(2, 3), (0, 0))
    with pytest.raises(ValueError, match=r"broadcast_to: cannot broadcast shape \(2, 3\) to \(4, 3\)"):
        md.broadcast_to(t(2, 3), (4, 3))


def test_dim_out_of_range():
    with pytest.raises(IndexError, match=r"dim 2 is out of range for a tensor with 2 dimensions"):
        md.sum(t(2, 3), dim=2)
    with pytest.raises(IndexError, match=r"dim 5 is out of range"):
        md.softmax(t(2, 3), dim=5)


def test_getitem_out_of_range_names_shape():
    with pytest.raises(IndexError, match=r"indexing a tensor of shape \(2, 3\)"):
        t(2, 3)[5]


def test_take_along_dim_errors():
    with pytest.raises(IndexError, match="take_along_dim: indices must be integers"):
        md.take_along_dim(t(2, 3), md.tensor(np.zeros((2, 1))), 1)
    with pytest.raises(ValueError, match="take_along_dim: indices have 1 dims, input has 2"):
        md.take_along_dim(t(2, 3), md.tensor(np.zeros(2, dtype=np.int64)), 1)


@pytest.mark.parametrize("name", ["inv", "det", "slogdet", "cholesky", "eigh"])
def test_linalg_needs_square(name):
    with pytest.raises(ValueError, match=rf"linalg.{name}: expected a square matrix .* got shape \(2, 3\)"):
        getattr(mla, name)(t(2, 3))


def test_linalg_singular_and_not_pd():
    with pytest.raises(ValueError, match=r"linalg.inv: the input of shape \(2, 2\) is singular"):
        mla.inv(md.tensor(np.zeros((2, 2))))
    with pytest.raises(ValueError, match=r"linalg.solve: .* singular"):
        mla.solve(md.tensor(np.zeros((2, 2))), t(2))
    with pytest.raises(ValueError, match=r"linalg.cholesky: the input of shape \(2, 2\) is not positive-definite"):
        mla.cholesky(md.tensor(-np.eye(2)))


def test_linalg_solve_shape_mismatch():
    with pytest.raises(ValueError, match=r"linalg.solve: A of shape \(3, 3\) and B of shape \(2,\) do not match"):
        mla.solve(md.tensor(np.eye(3)), t(2))


def test_linalg_integer_input():
    with pytest.raises(TypeError, match="linalg.inv: expected a floating tensor, got dtype int64"):
        mla.inv(md.tensor(np.eye(2, dtype=np.int64)))


def test_norm_errors():
    with pytest.raises(ValueError, match="linalg.matrix_norm: unsupported ord 3"):
        mla.matrix_norm(t(2, 2), ord=3)
    with pytest.raises(ValueError, match=r"linalg.norm: .* 1-D or 2-D, got shape \(2, 2, 2\)"):
        mla.norm(t(2, 2, 2), ord=2)
    with pytest.raises(ValueError, match=r"linalg.vector_norm: ord must be a number"):
        mla.vector_norm(t(3), ord="fro")


def test_topk_k_out_of_range():
    with pytest.raises(ValueError, match=r"topk: k=5 is out of range for dimension -1 of size 3 \(shape \(2, 3\)\)"):
        md.topk(t(2, 3), 5)


def test_sort_dim_out_of_range():
    with pytest.raises(IndexError, match="dim 3 is out of range"):
        md.sort(t(2, 3), dim=3)


def test_clamp_needs_a_bound():
    with pytest.raises(ValueError, match="clamp: at least one of min and max"):
        md.clamp(t(2))


def test_mean_of_integers():
    with pytest.raises(TypeError, match="mean: expected a floating tensor, got dtype int64"):
        md.mean(md.tensor([1, 2, 3]))


def test_one_hot_out_of_range():
    with pytest.raises(ValueError, match=r"one_hot: class values must be in \[0, 3\), got range \[0, 5\]"):
        md.one_hot(md.tensor([0, 5]), 3)


def test_integer_tensor_cannot_require_grad():
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients, got dtype int64"):
        md.tensor([1, 2]).requires_grad_()


def test_cumsum_needs_dim():
    with pytest.raises(TypeError, match="cumsum: dim is required"):
        md.cumsum(t(3))
