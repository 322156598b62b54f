"""Losses: parity with PyTorch (values and gradients for every reduction, weights, ignore_index,
label smoothing, probability targets), gradcheck + gradgradcheck in float64, focal and
distillation losses against their defining formulas, loss modules, and bad input."""

import warnings

import numpy as np
import pytest

import mathdl
import mathdl.nn as nn
import mathdl.nn.functional as F
from mathdl.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional

REDUCTIONS = ["mean", "sum", "none"]


def _rng(seed=0):
    return np.random.default_rng(seed)


def _md(a, grad=False):
    return mathdl.tensor(np.asarray(a), requires_grad=grad)


def _th(a, grad=False):
    return torch.tensor(np.asarray(a), requires_grad=grad)


def check_parity(md_fn, th_fn, arrays, diff, rtol=1e-9, atol=1e-11, seed=1):
    """Run both frameworks on the same float64 arrays; compare values and the gradients of a
    random projection of the output with respect to the inputs listed in ``diff``."""
    md_in = [_md(a, i in diff) for i, a in enumerate(arrays)]
    th_in = [_th(a, i in diff) for i, a in enumerate(arrays)]
    out = md_fn(*md_in)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tout = th_fn(*th_in)
    assert tuple(out.shape) == tuple(tout.shape)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=rtol, atol=atol)
    g = _rng(seed).standard_normal(tuple(out.shape))
    gm = mathdl.autograd.grad(out, [md_in[i] for i in diff], mathdl.tensor(g))
    gt = torch.autograd.grad(tout, [th_in[i] for i in diff], torch.tensor(g))
    for i, a, b in zip(diff, gm, gt):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=rtol, atol=atol, err_msg=f"gradient of input {i}")


def check_grads(fn, arrays, diff, atol=1e-5, rtol=1e-3):
    xs = [_md(a, i in diff) for i, a in enumerate(arrays)]
    assert gradcheck(fn, xs, atol=atol, rtol=rtol)
    assert gradgradcheck(fn, xs, atol=atol, rtol=rtol)


# --------------------------------------------------------------------------- regression losses
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
@pytest.mark.parametrize("weighted", [False, True])
def test_mse_l1_parity(name, reduction, weighted):
    r = _rng(2)
    x, y, w = r.standard_normal((4, 3)), r.standard_normal((4, 3)), r.random((4, 3)) + 0.5
    if weighted:
        check_parity(lambda a, b, c: getattr(F, name)(a, b, reduction=reduction, weight=c),
                     lambda a, b, c: getattr(TF, name)(a, b, reduction=reduction, weight=c), [x, y, w], [0, 1])
    else:
        check_parity(lambda a, b: getattr(F, name)(a, b, reduction=reduction),
                     lambda a, b: getattr(TF, name)(a, b, reduction=reduction), [x, y], [0, 1])


def test_mse_broadcast_target_like_torch():
    r = _rng(3)
    x, y = r.standard_normal((4, 3)), r.standard_normal((3,))
    check_parity(lambda a, b: F.mse_loss(a, b), lambda a, b: TF.mse_loss(a, b), [x, y], [0, 1])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("beta", [1.0, 0.4, 0.0])
def test_smooth_l1_parity(reduction, beta):
    r = _rng(4)
    x, y = r.standard_normal((5, 3)), r.standard_normal((5, 3))
    check_parity(lambda a, b: F.smooth_l1_loss(a, b, reduction=reduction, beta=beta),
                 lambda a, b: TF.smooth_l1_loss(a, b, reduction=reduction, beta=beta), [x, y], [0, 1])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("delta", [1.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
def test_huber_parity(reduction, delta, weighted):
    r = _rng(5)
    x, y, w = r.standard_normal((5, 3)), r.standard_normal((5, 3)), r.random((5, 3)) + 0.5
    if weighted:
        check_parity(lambda a, b, c: F.huber_loss(a, b, reduction=reduction, delta=delta, weight=c),
                     lambda a, b, c: TF.huber_loss(a, b, reduction=reduction, delta=delta, weight=c),
                     [x, y, w], [0, 1])
    else:
        check_parity(lambda a, b: F.huber_loss(a, b, reduction=reduction, delta=delta),
                     lambda a, b: TF.huber_loss(a, b, reduction=reduction, delta=delta), [x, y], [0, 1])


# --------------------------------------------------------------------------- cross-entropy / NLL
def _ce_case(shape=(6, 5), ignore=True, seed=6):
    r = _rng(seed)
    x = r.standard_normal(shape) * 2
    C = shape[1]
    t = r.integers(0, C, (shape[0],) + shape[2:])
    if ignore:
        t.reshape(-1)[1] = -100
    return x, t, r.random(C) + 0.5


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.15])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_index_parity(reduction, smoothing, weighted):
    x, t, w = _ce_case()
    kw = dict(reduction=reduction, label_smoothing=smoothing)
    if weighted:
        check_parity(lambda a, c: F.cross_entropy(a, _md(t), weight=c, **kw),
                     lambda a, c: TF.cross_entropy(a, _th(t), weight=c, **kw), [x, w], [0])
    else:
        check_parity(lambda a: F.cross_entropy(a, _md(t), **kw),
                     lambda a: TF.cross_entropy(a, _th(t), **kw), [x], [0])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_spatial_and_ignore_index_parity(reduction):
    x, t, w = _ce_case(shape=(3, 4, 2, 3), ignore=False, seed=7)
    kw = dict(reduction=reduction, ignore_index=2, weight=_md(w), label_smoothing=0.1)
    tkw = dict(kw, weight=_th(w))
    check_parity(lambda a: F.cross_entropy(a, _md(t), **kw), lambda a: TF.cross_entropy(a, _th(t), **tkw), [x], [0])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_probability_targets_parity(reduction, smoothing):
    r = _rng(8)
    x = r.standard_normal((4, 5))
    p = r.random((4, 5))
    p /= p.sum(1, keepdims=True)
    w = r.random(5) + 0.5
    check_parity(lambda a, b, c: F.cross_entropy(a, b, weight=c, reduction=reduction, label_smoothing=smoothing),
                 lambda a, b, c: TF.cross_entropy(a, b, weight=c, reduction=reduction, label_smoothing=smoothing),
                 [x, p, w], [0, 1])


def test_cross_entropy_unbatched_and_all_ignored():
    r = _rng(9)
    x = r.standard_normal(5)
    for red in REDUCTIONS:
        check_parity(lambda a, red=red: F.cross_entropy(a, _md(np.int64(3)), reduction=red),
                     lambda a, red=red: TF.cross_entropy(a, _th(np.int64(3)), reduction=red), [x], [0])
    # every target ignored: 'mean' is 0/0 = nan, as in PyTorch
    x2 = r.standard_normal((3, 4))
    t = np.full(3, -100)
    X2 = _md(x2, True)
    loss = F.cross_entropy(X2, _md(t), label_smoothing=0.1)
    assert np.isnan(loss.item()) and np.isnan(TF.cross_entropy(_th(x2), _th(t)).item())
    loss.backward()
    np.testing.assert_array_equal(X2.grad.numpy(), np.zeros((3, 4)))  # PyTorch's gradient here is 0 too


def test_cross_entropy_float32_stays_float32_and_is_stable():
    x = np.array([[1000.0, 0.0, -1000.0], [-5e4, 5e4, 0.0]], dtype=np.float32)
    t = np.array([0, 0])
    X = mathdl.tensor(x, requires_grad=True)
    loss = F.cross_entropy(X, mathdl.tensor(t), reduction="none")
    assert loss.dtype == np.float32
    np.testing.assert_allclose(loss.numpy(), [0.0, 1e5], rtol=1e-6)
    loss.sum().backward()
    assert X.grad.dtype == np.float32 and np.isfinite(X.grad.numpy()).all()
    np.testing.assert_allclose(X.grad.numpy(), [[0, 0, 0], [-1, 1, 0]], atol=1e-6)


@pytest.mark.parametrize("case", ["plain", "weight-smooth-ignore", "spatial-none", "prob"])
def test_cross_entropy_gradcheck(case):
    if case == "prob":
        r = _rng(10)
        x, p = r.standard_normal((3, 4)), r.random((3, 4))
        check_grads(lambda a, b: F.cross_entropy(a, b, label_smoothing=0.1), [x, p / p.sum(1, keepdims=True)], [0, 1])
        return
    if case == "spatial-none":
        x, t, w = _ce_case(shape=(2, 3, 2), seed=11)  # one target ignored
        check_grads(lambda a: F.cross_entropy(a, _md(t), reduction="none"), [x], [0])
        check_grads(lambda a: F.cross_entropy(a, _md(t), weight=_md(w), label_smoothing=0.3), [x], [0])
        return
    x, t, w = _ce_case(shape=(4, 3), seed=12)
    kw = {} if case == "plain" else dict(weight=_md(w), label_smoothing=0.2)
    check_grads(lambda a: F.cross_entropy(a, _md(t), **kw), [x], [0])


def test_cross_entropy_third_order_through_fused_gradient():
    """The fused gradient's backward is itself made of recorded ops: d^3 via nested grads."""
    x, t, _ = _ce_case(shape=(3, 4), seed=13)
    X = _md(x, True)
    TX = _th(x, True)
    (g,) = mathdl.autograd.grad(F.cross_entropy(X, _md(t), label_smoothing=0.1), [X], create_graph=True)
    (h,) = mathdl.autograd.grad((g * g).sum(), [X], create_graph=True)
    (k,) = mathdl.autograd.grad((h * h).sum(), [X])
    (tg,) = torch.autograd.grad(TF.cross_entropy(TX, _th(t), label_smoothing=0.1), [TX], create_graph=True)
    (th,) = torch.autograd.grad((tg * tg).sum(), [TX], create_graph=True)
    (tk,) = torch.autograd.grad((th * th).sum(), [TX])
    np.testing.assert_allclose(k.numpy(), tk.numpy(), rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("spatial", [False, True])
def test_nll_loss_parity(reduction, spatial):
    x, t, w = _ce_case(shape=(3, 4, 2) if spatial else (6, 4), seed=14)
    logp = x - np.log(np.exp(x).sum(1, keepdims=True))
    check_parity(lambda a, c: F.nll_loss(a, _md(t), weight=c, reduction=reduction),
                 lambda a, c: TF.nll_loss(a, _th(t), weight=c, reduction=reduction), [logp, w], [0])
    t1 = np.where(t == -100, 2, t)
    check_parity(lambda a: F.nll_loss(a, _md(t1), ignore_index=1, reduction=reduction),
                 lambda a: TF.nll_loss(a, _th(t1), ignore_index=1, reduction=reduction), [logp], [0])


def test_nll_loss_gradcheck():
    x, t, w = _ce_case(shape=(4, 3), seed=15)
    check_grads(lambda a: F.nll_loss(a, _md(t), weight=_md(w)), [x], [0])


# --------------------------------------------------------------------------- binary losses
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_parity(reduction, weighted):
    r = _rng(16)
    p, t, w = r.uniform(0.05, 0.95, (4, 3)), r.random((4, 3)), r.random((4, 3)) + 0.5
    if weighted:
        check_parity(lambda a, b, c: F.binary_cross_entropy(a, b, weight=c, reduction=reduction),
                     lambda a, b, c: TF.binary_cross_entropy(a, b, weight=c, reduction=reduction), [p, t, w], [0, 1])
    else:
        check_parity(lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction),
                     lambda a, b: TF.binary_cross_entropy(a, b, reduction=reduction), [p, t], [0, 1])


def test_bce_clamps_log_at_minus_100():
    p = mathdl.tensor(np.array([0.0, 1.0, 0.5]))
    t = mathdl.tensor(np.array([1.0, 0.0, 1.0]))
    np.testing.assert_allclose(F.binary_cross_entropy(p, t, reduction="none").numpy(),
                               TF.binary_cross_entropy(_th(p.numpy()), _th(t.numpy()), reduction="none").numpy())


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weights", ["none", "weight", "pos_weight", "both"])
def test_bce_with_logits_parity(reduction, weights):
    r = _rng(17)
    x, t = r.standard_normal((5, 3)) * 3, r.random((5, 3))
    w, pw = r.random((5, 3)) + 0.5, r.random(3) + 0.5
    arrays = [x, t, w, pw]

    def call(f, a, b, c, d):
        kw = dict(reduction=reduction)
        if weights in ("weight", "both"):
            kw["weight"] = c
        if weights in ("pos_weight", "both"):
            kw["pos_weight"] = d
        return f(a, b, **kw)

    check_parity(lambda *a: call(F.binary_cross_entropy_with_logits, *a),
                 lambda *a: call(TF.binary_cross_entropy_with_logits, *a), arrays, [0, 1])


def test_bce_with_logits_extreme_logits_are_finite():
    x = mathdl.tensor(np.array([-800.0, 800.0, 0.0], dtype=np.float32), requires_grad=True)
    t = mathdl.tensor(np.array([1.0, 0.0, 1.0], dtype=np.float32))
    loss = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    np.testing.assert_allclose(loss.numpy(), [800.0, 800.0, np.log(2)], rtol=1e-6)
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [-1.0, 1.0, -0.5], rtol=1e-6)


# --------------------------------------------------------------------------- divergences and likelihoods
@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_parity(reduction, log_target):
    r = _rng(18)
    x = r.standard_normal((3, 4))
    logq = x - np.log(np.exp(x).sum(1, keepdims=True))
    p = r.random((3, 4)) + 0.05
    p /= p.sum(1, keepdims=True)
    t = np.log(p) if log_target else p
    check_parity(lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=log_target),
                 lambda a, b: TF.kl_div(a, b, reduction=reduction, log_target=log_target), [logq, t], [0, 1])


def test_kl_div_zero_target_contributes_zero():
    x = _md(np.log(np.array([[0.5, 0.5]])), True)
    loss = F.kl_div(x, _md(np.array([[1.0, 0.0]])), reduction="sum")
    np.testing.assert_allclose(loss.item(), np.log(2.0))
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), [[-1.0, 0.0]])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("log_input,full", [(True, False), (False, False), (True, True), (False, True)])
def test_poisson_nll_parity(reduction, log_input, full):
    r = _rng(19)
    x = r.standard_normal((4, 3)) if log_input else r.random((4, 3)) + 0.1
    t = r.poisson(2.0, (4, 3)).astype(np.float64) + r.random((4, 3))
    check_parity(lambda a, b: F.poisson_nll_loss(a, b, log_input=log_input, full=full, reduction=reduction),
                 lambda a, b: TF.poisson_nll_loss(a, b, log_input=log_input, full=full, reduction=reduction),
                 [x, t], [0, 1])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("var_shape", [(5, 3), (5,), (5, 1)])
@pytest.mark.parametrize("full", [False, True])
def test_gaussian_nll_parity(reduction, var_shape, full):
    r = _rng(20)
    x, t = r.standard_normal((5, 3)), r.standard_normal((5, 3))
    v = r.random(var_shape) + 0.1
    v.reshape(-1)[0] = 1e-8  # below eps: clamped, gradient passes through
    check_parity(lambda a, b, c: F.gaussian_nll_loss(a, b, c, full=full, reduction=reduction),
                 lambda a, b, c: TF.gaussian_nll_loss(a, b, c, full=full, reduction=reduction),
                 [x, t, v], [0, 1, 2], rtol=1e-8)


# --------------------------------------------------------------------------- embedding / ranking losses
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.3])
def test_cosine_embedding_parity(reduction, margin):
    r = _rng(21)
    x1, x2 = r.standard_normal((6, 4)), r.standard_normal((6, 4))
    y = np.array([1, -1, 1, -1, -1, 1])
    check_parity(lambda a, b: F.cosine_embedding_loss(a, b, _md(y), margin=margin, reduction=reduction),
                 lambda a, b: TF.cosine_embedding_loss(a, b, _th(y), margin=margin, reduction=reduction),
                 [x1, x2], [0, 1])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.5])
def test_margin_ranking_parity(reduction, margin):
    r = _rng(22)
    x1, x2 = r.standard_normal(7), r.standard_normal(7)
    y = np.array([1.0, -1, 1, -1, 1, 1, -1])
    check_parity(lambda a, b, c: F.margin_ranking_loss(a, b, c, margin=margin, reduction=reduction),
                 lambda a, b, c: TF.margin_ranking_loss(a, b, c, margin=margin, reduction=reduction),
                 [x1, x2, y], [0, 1])


# --------------------------------------------------------------------------- gradcheck for every loss
def _gradcheck_cases():
    r = _rng(23)
    x, y, w = r.standard_normal((3, 2)), r.standard_normal((3, 2)), r.random((3, 2)) + 0.5
    p = r.uniform(0.1, 0.9, (3, 2))
    logq = np.log(p / p.sum(1, keepdims=True))
    q = r.random((3, 2)) + 0.1
    q /= q.sum(1, keepdims=True)
    v = r.random((3, 2)) + 0.2
    y_pm = np.array([1, -1, 1])
    return {
        "mse": (lambda a, b, c: F.mse_loss(a, b, weight=c), [x, y, w], [0, 1, 2]),
        "l1": (lambda a, b: F.l1_loss(a, b), [x, y], [0, 1]),
        "smooth_l1": (lambda a, b: F.smooth_l1_loss(a, b, beta=0.7, reduction="sum"), [x, y], [0, 1]),
        "huber": (lambda a, b: F.huber_loss(a, b, delta=0.6, reduction="none"), [x, y], [0, 1]),
        "bce": (lambda a, b: F.binary_cross_entropy(a, b, weight=_md(w)), [p, q], [0, 1]),
        "bce_logits": (lambda a, b, c: F.binary_cross_entropy_with_logits(a, b, pos_weight=c), [x, q, w[0]],
                       [0, 1, 2]),
        "kl_div": (lambda a, b: F.kl_div(a, b, reduction="batchmean"), [logq, q], [0, 1]),
        "kl_div_log_target": (lambda a, b: F.kl_div(a, b, reduction="sum", log_target=True), [logq, np.log(q)],
                              [0, 1]),
        "poisson": (lambda a, b: F.poisson_nll_loss(a, b, full=True), [x, v * 3], [0, 1]),
        "poisson_rate": (lambda a, b: F.poisson_nll_loss(a, b, log_input=False), [v, q], [0, 1]),
        "gaussian": (lambda a, b, c: F.gaussian_nll_loss(a, b, c, full=True), [x, y, v], [0, 1, 2]),
        "cosine": (lambda a, b: F.cosine_embedding_loss(a, b, _md(y_pm), margin=-0.5), [x, y], [0, 1]),
        "margin_ranking": (lambda a, b: F.margin_ranking_loss(a, b, _md(y_pm.astype(float)), margin=0.1),
                           [x[:, 0], y[:, 0]], [0, 1]),
    }


@pytest.mark.parametrize("name", list(_gradcheck_cases()))
def test_gradcheck_every_loss(name):
    fn, arrays, diff = _gradcheck_cases()[name]
    check_grads(fn, arrays, diff)


# --------------------------------------------------------------------------- focal losses
def test_focal_loss_gamma_zero_equals_cross_entropy():
    x, t, w = _ce_case(shape=(6, 5), seed=24)
    X = _md(x)
    for red in REDUCTIONS:
        np.testing.assert_allclose(F.focal_loss(X, _md(t), gamma=0.0, reduction=red).numpy(),
                                   F.cross_entropy(X, _md(t), reduction=red).numpy(), rtol=1e-12)
        np.testing.assert_allclose(F.focal_loss(X, _md(t), gamma=0.0, alpha=_md(w), reduction=red).numpy(),
                                   TF.cross_entropy(_th(x), _th(t), weight=_th(w), reduction=red).numpy(), rtol=1e-12)


def _torch_focal(x, t, gamma, alpha, ignore_index=-100):
    logp = TF.log_softmax(x, 1)
    valid = t != ignore_index
    safe = torch.where(valid, t, 0)
    logpt = logp.gather(1, safe[:, None])[:, 0]
    at = alpha[safe] if alpha is not None else torch.ones_like(logpt)
    loss = -at * (1 - logpt.exp()) ** gamma * logpt * valid
    return loss.sum() / (at * valid).sum()


@pytest.mark.parametrize("gamma", [2.0, 0.5])
def test_focal_loss_parity_with_formula(gamma):
    x, t, w = _ce_case(shape=(6, 4), seed=25)
    check_parity(lambda a, c: F.focal_loss(a, _md(t), gamma=gamma, alpha=c),
                 lambda a, c: _torch_focal(a, _th(t), gamma, c), [x, w], [0])
    # scalar alpha scales the loss; mean is over counted targets
    v = F.focal_loss(_md(x), _md(t), gamma=gamma, alpha=0.25).item()
    ref = _torch_focal(_th(x), _th(t), gamma, None).item() * 0.25
    np.testing.assert_allclose(v, ref, rtol=1e-12)


def test_focal_loss_downweights_easy_examples():
    x = _md(np.array([[4.0, 0.0, 0.0], [0.2, 0.0, 0.0]]))
    t = _md(np.array([0, 0]))
    ce = F.cross_entropy(x, t, reduction="none").numpy()
    fl = F.focal_loss(x, t, gamma=2.0, reduction="none").numpy()
    ratio = fl / ce
    np.testing.assert_allclose(ratio, (1 - np.exp(-ce)) ** 2, rtol=1e-12)  # (1 - p_t)^2
    assert ratio[0] < 0.002 and 0.3 < ratio[1] < 0.6  # easy p_t = 0.965 -> 0.0012, hard 0.38 -> 0.39


def test_focal_loss_gradcheck():
    x, t, w = _ce_case(shape=(4, 3), seed=26)
    check_grads(lambda a: F.focal_loss(a, _md(t), gamma=1.5, alpha=_md(w)), [x], [0])


def _torch_sigmoid_focal(x, t, alpha, gamma, reduction):  # torchvision.ops.sigmoid_focal_loss
    p = torch.sigmoid(x)
    ce = TF.binary_cross_entropy_with_logits(x, t, reduction="none")
    p_t = p * t + (1 - p) * (1 - t)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha >= 0:
        loss = (alpha * t + (1 - alpha) * (1 - t)) * loss
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_sigmoid_focal_parity_and_gamma_zero(reduction):
    r = _rng(27)
    x, t = r.standard_normal((5, 3)) * 2, (r.random((5, 3)) > 0.5).astype(np.float64)
    check_parity(lambda a, b: F.sigmoid_focal_loss(a, b, alpha=0.25, gamma=2.0, reduction=reduction),
                 lambda a, b: _torch_sigmoid_focal(a, b, 0.25, 2.0, reduction), [x, t], [0, 1])
    np.testing.assert_allclose(F.sigmoid_focal_loss(_md(x), _md(t), alpha=None, gamma=0.0, reduction=reduction).numpy(),
                               TF.binary_cross_entropy_with_logits(_th(x), _th(t), reduction=reduction).numpy(),
                               rtol=1e-12)


def test_sigmoid_focal_gradcheck():
    r = _rng(28)
    x, t = r.standard_normal((3, 2)), r.random((3, 2))
    check_grads(lambda a, b: F.sigmoid_focal_loss(a, b, alpha=0.3, gamma=2.0), [x, t], [0, 1])


# --------------------------------------------------------------------------- distillation
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_distillation_loss_matches_formula(reduction):
    r = _rng(29)
    s, te = r.standard_normal((5, 4)), r.standard_normal((5, 4)) * 2
    y = r.integers(0, 4, 5)
    T, alpha = 3.0, 0.7

    def ref(a):
        kl = TF.kl_div(TF.log_softmax(a / T, 1), TF.softmax(_th(te) / T, 1),
                       reduction="batchmean" if reduction == "mean" else "sum")
        return alpha * T * T * kl + (1 - alpha) * TF.cross_entropy(a, _th(y), reduction=reduction)

    check_parity(lambda a: F.distillation_loss(a, _md(te), _md(y), temperature=T, alpha=alpha, reduction=reduction),
                 ref, [s], [0])


def test_distillation_loss_limits_and_gradcheck():
    r = _rng(30)
    s, te, y = r.standard_normal((3, 4)), r.standard_normal((3, 4)), r.integers(0, 4, 3)
    S = _md(s)
    # alpha = 0: plain cross-entropy; student == teacher with alpha = 1: zero
    np.testing.assert_allclose(F.distillation_loss(S, _md(te), _md(y), alpha=0.0).item(),
                               F.cross_entropy(S, _md(y)).item(), rtol=1e-12)
    assert abs(F.distillation_loss(S, S, _md(y), alpha=1.0).item()) < 1e-12
    per = F.distillation_loss(S, _md(te), _md(y), reduction="none")
    assert tuple(per.shape) == (3,)
    check_grads(lambda a, b: F.distillation_loss(a, b, _md(y), temperature=2.0, alpha=0.6), [s, te], [0, 1])


# --------------------------------------------------------------------------- modules
def test_modules_match_functional_and_hold_buffers():
    x, t, w = _ce_case(shape=(6, 4), seed=31)
    X = _md(x)
    m = nn.CrossEntropyLoss(weight=w, label_smoothing=0.1, ignore_index=-100)
    assert "weight" in m.state_dict()
    np.testing.assert_allclose(m(X, _md(t)).item(),
                               TF.cross_entropy(_th(x), _th(t), weight=_th(w), label_smoothing=0.1).item(), rtol=1e-6)
    r = _rng(32)
    a, b = _md(r.standard_normal((3, 2))), _md(r.standard_normal((3, 2)))
    p, q = _md(r.uniform(0.1, 0.9, (3, 2))), _md(r.random((3, 2)))
    pairs = [
        (nn.MSELoss(reduction="sum"), (a, b), F.mse_loss(a, b, reduction="sum")),
        (nn.L1Loss(), (a, b), F.l1_loss(a, b)),
        (nn.SmoothL1Loss(beta=0.5), (a, b), F.smooth_l1_loss(a, b, beta=0.5)),
        (nn.HuberLoss(delta=0.5), (a, b), F.huber_loss(a, b, delta=0.5)),
        (nn.BCELoss(), (p, q), F.binary_cross_entropy(p, q)),
        (nn.BCEWithLogitsLoss(pos_weight=[2.0, 0.5]), (a, q),
         F.binary_cross_entropy_with_logits(a, q, pos_weight=_md(np.array([2.0, 0.5])))),
        (nn.KLDivLoss(reduction="batchmean"), (a, q), F.kl_div(a, q, reduction="batchmean")),
        (nn.PoissonNLLLoss(), (a, q), F.poisson_nll_loss(a, q)),
        (nn.GaussianNLLLoss(), (a, b, p), F.gaussian_nll_loss(a, b, p)),
        (nn.CosineEmbeddingLoss(margin=0.1), (a, b, _md(np.array([1, -1, 1]))),
         F.cosine_embedding_loss(a, b, _md(np.array([1, -1, 1])), margin=0.1)),
        (nn.MarginRankingLoss(margin=0.2), (a[:, 0], b[:, 0], _md(np.array([1.0, -1, 1]))),
         F.margin_ranking_loss(a[:, 0], b[:, 0], _md(np.array([1.0, -1, 1])), margin=0.2)),
        (nn.NLLLoss(), (a, _md(np.array([0, 1, 1]))), F.nll_loss(a, _md(np.array([0, 1, 1])))),
        (nn.FocalLoss(gamma=2.0, alpha=[0.3, 0.7]), (a, _md(np.array([0, 1, 1]))),
         F.focal_loss(a, _md(np.array([0, 1, 1])), gamma=2.0, alpha=[0.3, 0.7])),
        (nn.SigmoidFocalLoss(), (a, q), F.sigmoid_focal_loss(a, q)),
        (nn.DistillationLoss(temperature=2.0), (a, b, _md(np.array([0, 1, 1]))),
         F.distillation_loss(a, b, _md(np.array([0, 1, 1])), temperature=2.0)),
    ]
    for mod, args, ref in pairs:
        np.testing.assert_allclose(mod(*args).numpy(), ref.numpy(), rtol=1e-6, err_msg=type(mod).__name__)
        assert type(mod).__name__ in repr(mod)


def test_cross_entropy_module_trains_a_linear_classifier():
    """A few steps of plain gradient descent on the fused loss reduce it (float32 path)."""
    r = _rng(33)
    x = mathdl.tensor(r.standard_normal((64, 5)).astype(np.float32))
    y = mathdl.tensor(x.numpy()[:, :3].argmax(1))  # linearly separable
    W = mathdl.tensor(np.zeros((5, 3), dtype=np.float32), requires_grad=True)
    loss_fn = nn.CrossEntropyLoss()
    first = None
    for _ in range(30):
        loss = loss_fn(x @ W, y)
        first = first if first is not None else loss.item()
        W.grad = None
        loss.backward()
        W.array -= 1.0 * W.grad.array
    assert loss.item() < 0.5 * first


# --------------------------------------------------------------------------- bad input
def test_cross_entropy_bad_target_dtype_and_shape():
    x = _md(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"cross_entropy.*\(4,\).*\(4, 3\)"):
        F.cross_entropy(x, _md(np.zeros(4)))  # float class indices
    with pytest.raises(ValueError, match=r"cross_entropy: expected target of shape \(4,\).*got target shape \(4, 1\)"):
        F.cross_entropy(x, _md(np.zeros((4, 1), dtype=np.int64)))
    with pytest.raises(TypeError, match=r"cross_entropy.*integer dtype, got bool"):
        F.cross_entropy(x, _md(np.zeros(4, dtype=bool)))
    with pytest.raises(IndexError, match=r"cross_entropy: target class 3 is out of range \[0, 3\)"):
        F.cross_entropy(x, _md(np.array([0, 1, 2, 3])))
    with pytest.raises(ValueError, match=r"cross_entropy: weight must have shape \(3,\)"):
        F.cross_entropy(x, _md(np.array([0, 1, 2, 0])), weight=_md(np.ones(4)))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(x, _md(np.array([0, 1, 2, 0])), reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, _md(np.array([0, 1, 2, 0])), label_smoothing=1.5)
    with pytest.raises(TypeError, match="cross_entropy: input must be floating point"):
        F.cross_entropy(_md(np.zeros((4, 3), dtype=np.int64)), _md(np.array([0, 1, 2, 0])))


def test_other_bad_inputs():
    a = _md(np.full((2, 3), 0.5))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: target shape \(3,\) must equal the input shape"):
        F.binary_cross_entropy(a, _md(np.ones(3)))
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        F.binary_cross_entropy(a * 3.0, _md(np.ones((2, 3))))
    with pytest.raises(TypeError, match="nll_loss.*integer dtype"):
        F.nll_loss(a, _md(np.zeros(2)))
    with pytest.raises(ValueError, match="gaussian_nll_loss: var of shape"):
        F.gaussian_nll_loss(a, a, _md(np.ones((3, 2))))
    with pytest.raises(ValueError, match="kl_div: reduction"):
        F.kl_div(a, a, reduction="avg")
    with pytest.raises(ValueError, match="mse_loss: weight shape"):
        F.mse_loss(a, a, weight=_md(np.ones(3)))
