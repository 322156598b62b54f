"""The everyday PyTorch surface of issue 8 and the fixes of issue 17 that the op table does not
reach: Generator and generator=, random draws, mathdl.cuda, formatting of 0-d tensors, refused
string data, Tensor methods (new_*, layout, in-place forms), finfo/iinfo, linspace rounding,
the fast exponents of pow, and the fused activations on 0-d tensors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import mathdl as md
import mathdl.nn.functional as F
from mathdl import backend

torch = pytest.importorskip("torch")


# --------------------------------------------------------------------------- Generator
def test_generator_streams_are_seeded_and_independent():
    g1, g2 = backend.Generator().manual_seed(7), backend.Generator().manual_seed(7)
    a = md.rand(5, generator=g1)
    md.manual_seed(0)
    md.rand(3)  # the default generator does not disturb g2
    b = md.rand(5, generator=g2)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert g1.initial_seed() == 7
    state = g1.get_state()
    c = md.randn(4, generator=g1)
    g1.set_state(state)
    np.testing.assert_array_equal(md.randn(4, generator=g1).numpy(), c.numpy())


@pytest.mark.parametrize("draw", [
    lambda g: md.rand(3, generator=g), lambda g: md.randn(2, 2, generator=g),
    lambda g: md.randint(0, 10, (6,), generator=g), lambda g: md.randperm(6, generator=g),
    lambda g: md.normal(0.0, 1.0, (3,), generator=g), lambda g: md.rand_like(md.zeros(3), generator=g),
    lambda g: md.bernoulli(md.full((6,), 0.5), generator=g),
    lambda g: md.multinomial(md.tensor([1.0, 2.0, 3.0]), 2, generator=g),
    lambda g: md.poisson(md.full((4,), 3.0), generator=g),
    lambda g: md.zeros(5).uniform_(-1, 1, generator=g), lambda g: md.zeros(5).normal_(generator=g),
    lambda g: md.zeros(5).exponential_(generator=g), lambda g: md.zeros(5).random_(0, 9, generator=g),
    lambda g: md.zeros(5).bernoulli_(0.3, generator=g), lambda g: md.zeros(5).geometric_(0.4, generator=g),
    lambda g: md.zeros(5).log_normal_(generator=g), lambda g: md.zeros(5).cauchy_(generator=g),
])
def test_generator_argument_makes_draws_repeatable(draw):
    a = draw(backend.Generator().manual_seed(3))
    b = draw(backend.Generator().manual_seed(3))
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_manual_seed_returns_the_default_generator_and_refuses_bad_seeds():
    assert md.manual_seed(5) is backend.default_generator
    assert backend.initial_seed() == 5
    with pytest.raises(ValueError, match="non-negative integer"):
        backend.Generator().manual_seed(-1)
    with pytest.raises(TypeError, match="mathdl.Generator"):
        md.rand(2, generator=np.random.default_rng(0))


# --------------------------------------------------------------------------- random draws
def test_random_draws_exact_cases():
    assert md.bernoulli(md.tensor([0.0, 1.0, 0.0, 1.0])).tolist() == [0.0, 1.0, 0.0, 1.0]
    assert md.poisson(md.zeros(4)).tolist() == [0.0] * 4
    idx = md.multinomial(md.tensor([0.0, 5.0, 0.0, 1.0]), 2)                 # zero weights never drawn
    assert sorted(idx.tolist()) == [1, 3] and idx.dtype == md.int64
    rows = md.multinomial(md.tensor([[1.0, 1.0, 1.0, 1.0]] * 3), 4)           # a permutation per row
    assert all(sorted(r) == [0, 1, 2, 3] for r in rows.tolist())
    many = md.multinomial(md.tensor([1.0, 0.0, 3.0]), 4000, replacement=True).numpy()
    assert set(np.unique(many)) <= {0, 2} and abs((many == 2).mean() - 0.75) < 0.03
    u = md.zeros(2000).uniform_(2.0, 3.0).numpy()
    assert u.min() >= 2.0 and u.max() < 3.0 and abs(u.mean() - 2.5) < 0.03


def test_random_draws_refuse_bad_input():
    with pytest.raises(ValueError, match="without replacement"):
        md.multinomial(md.tensor([1.0, 1.0]), 3)
    with pytest.raises(ValueError, match=r"bernoulli: probabilities must be in \[0, 1\]"):
        md.bernoulli(md.tensor([1.5]))
    with pytest.raises(ValueError, match="poisson: rates must be non-negative"):
        md.poisson(md.tensor([-1.0]))
    with pytest.raises(TypeError, match="uniform_: expected a floating tensor"):
        md.zeros(2, dtype=md.int64).uniform_()


# --------------------------------------------------------------------------- cuda, formatting, bad data
def test_cuda_namespace_answers_honestly_without_a_gpu():
    cuda = md.cuda
    if cuda.is_available():  # pragma: no cover - GPU machines
        assert cuda.device_count() >= 1 and cuda.current_device() >= 0
        return
    assert cuda.device_count() == 0
    cuda.synchronize()
    cuda.empty_cache()
    cuda.manual_seed_all(11)
    assert backend.initial_seed() == 11
    with pytest.raises(RuntimeError, match="no CUDA device is available"):
        cuda.current_device()


def test_format_of_0d_tensors_like_torch():
    for v in (0.123456, -2.5, 3):
        t, tt = md.tensor(v), torch.tensor(v)
        assert f"{t}" == f"{tt}"
        if isinstance(v, float):
            assert f"{t:.3f}" == f"{tt:.3f}" and f"{t:>10.2e}" == f"{tt:>10.2e}"
    assert f"{md.tensor([1.0, 2.0])}" == str(md.tensor([1.0, 2.0]))
    with pytest.raises(TypeError):
        f"{md.tensor([1.0, 2.0]):.3f}"


@pytest.mark.parametrize("data", ["abc", ["a", "b"], b"xy"])
def test_string_data_is_refused(data):
    with pytest.raises(TypeError, match="cannot make a tensor from"):
        md.tensor(data)


# --------------------------------------------------------------------------- Tensor methods
def test_new_tensors_and_layout_methods():
    x = md.tensor(np.arange(6.0).reshape(2, 3), dtype=md.float64)
    xt = torch.tensor(np.arange(6.0).reshape(2, 3))
    for name, args in [("new_zeros", (2, 2)), ("new_ones", ((3,),)), ("new_full", ((2,), 1.5)),
                       ("new_tensor", ([1, 2],)), ("new_empty", (2,))]:
        a, b = getattr(x, name)(*args), getattr(xt, name)(*args)
        assert a.shape == tuple(b.shape) and str(a.dtype) == str(b.dtype).replace("torch.", "")
        if name != "new_empty":
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert x.nelement() == 6 and x.ndimension() == 2 and x.element_size() == 8
    assert x.stride() == xt.stride() and x.T.stride() == xt.T.stride() and x.stride(1) == 1
    assert x.is_contiguous() and not x.T.is_contiguous() and x.T.contiguous().is_contiguous()
    assert x.type() == "mathdl.DoubleTensor" and x.type(md.float32).dtype == md.float32
    assert x.byte().dtype == md.uint8 and x.short().dtype == md.int16 and x.char().dtype == md.int8
    assert x.is_floating_point() and not x.long().is_floating_point() and md.is_tensor(x) and md.numel(x) == 6
    np.testing.assert_array_equal(x.repeat(2, 1).numpy(), xt.repeat(2, 1).numpy())
    np.testing.assert_array_equal(x.t().numpy(), xt.t().numpy())
    for op in ("eq", "ne", "lt", "le", "gt", "ge"):
        np.testing.assert_array_equal(getattr(x, op)(2.0).numpy(), getattr(xt, op)(2.0).numpy())
    assert x.get_device() == -1 and not x.is_cuda
    a, b, at, bt = md.tensor([5, 3, -1]), md.tensor([6, 1, 255]), torch.tensor([5, 3, -1]), torch.tensor([6, 1, 255])
    for fm, ft in [(lambda u, v: u & v, lambda u, v: u & v), (lambda u, v: u | v, lambda u, v: u | v),
                   (lambda u, v: u ^ v, lambda u, v: u ^ v), (lambda u, v: ~u, lambda u, v: ~u),
                   (lambda u, v: u % 4, lambda u, v: u % 4), (lambda u, v: u // 4, lambda u, v: u // 4),
                   (lambda u, v: u << 2, lambda u, v: u << 2)]:
        np.testing.assert_array_equal(fm(a, b).numpy(), ft(at, bt).numpy())
    assert md.is_nonzero(md.tensor([1.5])) and not md.is_nonzero(md.tensor(0.0))
    with pytest.raises(RuntimeError, match="is_nonzero: expected a tensor with one entry"):
        md.is_nonzero(md.ones(2))


def test_inplace_methods_follow_the_inplace_policy():
    x = md.tensor([0.5, -1.0, 2.0])
    y = x.exp_()
    assert y is x and x._version == 1
    np.testing.assert_allclose(x.numpy(), np.exp([0.5, -1.0, 2.0]), rtol=1e-6)
    x.masked_fill_(md.tensor([True, False, False]), 9.0).clamp_max_(5.0)
    assert x.tolist()[0] == 5.0
    z = md.zeros(3, 4)
    z.scatter_(1, md.tensor([[0], [3], [1]]), md.ones(3, 1))
    z.index_add_(0, md.tensor([0, 0]), md.ones(2, 4))
    zt = torch.zeros(3, 4).scatter_(1, torch.tensor([[0], [3], [1]]), torch.ones(3, 1))
    zt.index_add_(0, torch.tensor([0, 0]), torch.ones(2, 4))
    np.testing.assert_array_equal(z.numpy(), zt.numpy())
    leaf = md.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        leaf.sigmoid_()
    a = md.tensor([0.3, -0.4], requires_grad=True)
    b = a * 2.0
    b.tanh_()                            # recorded out of place: the gradient is that of tanh(2a)
    b.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), 2 * (1 - np.tanh([0.6, -0.8]) ** 2), rtol=1e-6)
    with pytest.raises(RuntimeError, match="can't be cast"):
        md.tensor([1, 2]).sqrt_()        # a float result cannot go into an integer tensor


def test_finfo_iinfo_and_dtype_aliases_match_torch():
    for name in ("float16", "bfloat16", "float32", "float64"):
        a, b = backend.finfo(getattr(md, name)), torch.finfo(getattr(torch, name))
        assert (a.bits, a.eps, a.max, a.min, a.tiny) == (b.bits, b.eps, b.max, b.min, b.tiny), name
    for name in ("uint8", "int8", "int16", "int32", "int64"):
        a, b = backend.iinfo(getattr(md, name)), torch.iinfo(getattr(torch, name))
        assert (a.bits, a.min, a.max) == (b.bits, b.min, b.max), name
    assert (backend.half, backend.double, backend.long, backend.short, backend.byte, backend.char) == \
        (md.float16, md.float64, md.int64, md.int16, md.uint8, md.int8)
    with pytest.raises(TypeError, match="finfo: expected a floating dtype"):
        backend.finfo(md.int32)


# --------------------------------------------------------------------------- issue 17 fixes
@pytest.mark.parametrize("start,end,steps", [(0, 10, 7), (-3, 10, 7), (2.5, -3.7, 13), (-1000, 1000, 101),
                                             (5, 5, 1), (0, 1, 0)])
@pytest.mark.parametrize("dtype", ["int64", "int32", "int16"])
def test_linspace_with_integer_dtype_rounds_like_torch(start, end, steps, dtype):
    a = md.linspace(start, end, steps, dtype=getattr(md, dtype))
    b = torch.linspace(start, end, steps, dtype=getattr(torch, dtype))
    assert str(a.dtype) == dtype
    np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("p", [2, 3, -1, -2, 0.5, -0.5, 0, 1])
def test_fast_exponents_agree_with_torch_bit_for_bit_and_at_zero(p):
    vals = np.array([0.0, -0.0, 1.7, -2.3, 1e-3, 4.0, np.inf, -np.inf, np.nan, 1e-40], dtype=np.float32)
    x, xt = md.tensor(vals, requires_grad=True), torch.tensor(vals, requires_grad=True)
    with np.errstate(all="ignore"):
        y = x ** p
        y.sum().backward()
    yt = xt ** p
    yt.sum().backward()
    np.testing.assert_array_equal(y.numpy(), yt.detach().numpy())
    np.testing.assert_array_equal(x.grad.numpy(), xt.grad.numpy())


def test_pow_gradients_at_zero_like_torch():
    for a, b in [([0.0], [0.0]), ([0.0], [2.0]), ([2.0], [0.0]), ([-0.0], [-1.0])]:
        x, y = md.tensor(a, requires_grad=True), md.tensor(b, requires_grad=True)
        xt, yt = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
        with np.errstate(all="ignore"):
            (x ** y).sum().backward()
        (xt ** yt).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), xt.grad.numpy())
        np.testing.assert_array_equal(y.grad.numpy(), yt.grad.numpy())
    z = md.tensor([0.0], requires_grad=True)
    (z ** 0.0).sum().backward()
    assert z.grad.tolist() == [0.0]
    with pytest.raises(RuntimeError, match="integers to negative integer powers"):
        md.tensor([2, 3]) ** -1


def test_float_functions_of_integers_give_the_default_float():
    assert md.tensor(2).cos().dtype == md.float32 and md.tensor([1, 2]).exp().dtype == md.float32
    assert md.tensor([True]).sqrt().dtype == md.float32


@pytest.mark.parametrize("name", ["leaky_relu", "logsigmoid", "gelu", "softplus", "elu", "mish", "selu", "celu",
                                  "silu"])
def test_fused_activations_on_0d_tensors(name):
    for v in (0.7, -1.3):
        x, xt = md.tensor(v, requires_grad=True), torch.tensor(v, requires_grad=True)
        y, yt = getattr(F, name)(x), getattr(torch.nn.functional, name)(xt)
        assert y.shape == ()
        g, = md.autograd.grad(y, [x], create_graph=True)
        gt, = torch.autograd.grad(yt, [xt], create_graph=True)
        pairs = [(y, yt), (g, gt)]
        if name != "leaky_relu":  # piecewise linear: mathdl's gradient is a constant (torch: zero 2nd derivative)
            gg, = md.autograd.grad(g, [x])
            ggt, = torch.autograd.grad(gt, [xt])
            pairs.append((gg, ggt))
        for a, b in pairs:
            assert a.shape == () and math.isclose(a.item(), b.item(), rel_tol=1e-5, abs_tol=1e-6), name


# --------------------------------------------------------------------------- bad input of the new ops
@pytest.mark.parametrize("call,exc,words", [
    (lambda: md.quantile(md.rand(4), 1.5), ValueError, "q values must be in the range"),
    (lambda: md.quantile(md.rand(4), 0.5, interpolation="cubic"), ValueError, "interpolation must be"),
    (lambda: md.diagonal(md.rand(3)), ValueError, "diagonal: needs two distinct dimensions"),
    (lambda: md.tile(md.rand(2), (-1,)), ValueError, "tile: repeats must be non-negative"),
    (lambda: md.rand(2, 3).repeat(2), ValueError, "repeat: number of repeat dims"),
    (lambda: md.scatter(md.rand(2, 3), 1, md.tensor([[5]]), md.rand(1, 1)), IndexError, "scatter: index out of range"),
    (lambda: md.index_add(md.rand(2, 3), 0, md.tensor([0.5]), md.rand(1, 3)), TypeError, "index must be an integer"),
    (lambda: md.tensordot(md.rand(2, 3), md.rand(2, 3), 1), ValueError, "contracted dimensions differ"),
    (lambda: md.cdist(md.rand(2, 3), md.rand(2, 4)), ValueError, "cdist: expected"),
    (lambda: md.bincount(md.tensor([-1, 2])), ValueError, "bincount: input must be non-negative"),
    (lambda: md.searchsorted(md.rand(2, 3), md.rand(3, 1)), ValueError, "leading dimensions"),
    (lambda: md.narrow(md.rand(4), 0, 3, 2), IndexError, "narrow: start 3 and length 2"),
    (lambda: md.bitwise_and(md.rand(2), md.rand(2)), TypeError, "bitwise_and: expected integer"),
    (lambda: md.div(md.tensor([1]), md.tensor([0]), rounding_mode="floor"), RuntimeError, "integer division by zero"),
    (lambda: md.linspace(0, 1, -2), RuntimeError, "number of steps must be non-negative"),
    (lambda: md.meshgrid(md.rand(2), indexing="ab"), ValueError, "indexing must be"),
])
def test_new_ops_refuse_bad_input_clearly(call, exc, words):
    with pytest.raises(exc, match=words):
        call()


def test_small_torch_names():
    d = md.device("cuda", 1)
    assert d == "cuda:1" and d.type == "cuda" and d.index == 1 and md.device("cpu").index is None
    with pytest.raises(ValueError, match="unknown device type"):
        md.device("tpu")
    assert isinstance(md.float32, md.dtype)
    x = md.tensor([0.5, 0.2], requires_grad=True)
    np.testing.assert_allclose(md.rsub(x, 1.0, alpha=2).detach().numpy(), [0.0, 0.6], rtol=1e-6)
    assert md.detach(x).requires_grad is False
    np.testing.assert_allclose(md.lgamma(x).detach().numpy(), torch.lgamma(torch.tensor([0.5, 0.2])).numpy(),
                               rtol=1e-5)
    a, b = (x * x).sum(), (x * 3).sum()
    md.autograd.backward([a, b])
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 3.4], rtol=1e-6)
    with md.autograd.inference_mode():
        assert not (x * 2).requires_grad
    with md.autograd.inference_mode(False):
        assert (x * 2).requires_grad
