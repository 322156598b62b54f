"""The functional forms added with the layout by topic: parity with torch (forward and the
gradient of every input) and float64 gradcheck / gradgradcheck, driven by one table."""

import numpy as np
import pytest

import mathdl
import mathdl.nn.functional as F
from mathdl.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _r(*shape, seed=0, scale=1.0, shift=0.0):
    return np.random.default_rng(seed).standard_normal(shape) * scale + shift


def _pos(*shape, seed=0):
    return np.random.default_rng(seed).uniform(0.5, 2.0, shape)


I3 = np.array([[1, 2, 0], [3, 0, 1]])
G6 = np.random.default_rng(6).uniform(-1, 1, (1, 3, 2, 2))
CASES = {
    # name: (mathdl fn, torch fn, inputs, gradgrad?)
    "pad-reflect": (lambda x: F.pad(x, (2, 1, 1, 2), mode="reflect"),
                    lambda x: TF.pad(x, (2, 1, 1, 2), mode="reflect"), [_r(2, 2, 4, 5)], True),
    "pad-replicate": (lambda x: F.pad(x, (1, 3), mode="replicate"),
                      lambda x: TF.pad(x, (1, 3), mode="replicate"), [_r(2, 3, 4)], True),
    "pad-circular": (lambda x: F.pad(x, (1, 2, 3, 0, 1, 1), mode="circular"),
                     lambda x: TF.pad(x, (1, 2, 3, 0, 1, 1), mode="circular"), [_r(1, 2, 3, 4, 3)], True),
    "pad-constant": (lambda x: F.pad(x, (1, 0, 2, 1), value=0.5), lambda x: TF.pad(x, (1, 0, 2, 1), value=0.5),
                     [_r(2, 3, 3)], True),
    "pad-negative-crops": (lambda x: F.pad(x, (-1, 2, 0, -2), value=1.5),
                           lambda x: TF.pad(x, (-1, 2, 0, -2), value=1.5),
                           [_r(2, 3, 4)], True),
    "conv3d": (lambda x, w, b: F.conv3d(x, w, b, stride=(1, 2, 1), padding=(1, 0, 1), dilation=(2, 1, 1), groups=2),
               lambda x, w, b: TF.conv3d(x, w, b, stride=(1, 2, 1), padding=(1, 0, 1), dilation=(2, 1, 1), groups=2),
               [_r(1, 4, 4, 4, 3), _r(2, 2, 2, 2, 2, seed=1), _r(2, seed=2)], True),
    "conv3d-same": (lambda x, w: F.conv3d(x, w, padding="same"), lambda x, w: TF.conv3d(x, w, padding="same"),
                    [_r(1, 2, 3, 4, 3), _r(3, 2, 2, 3, 1, seed=1)], False),
    "conv_transpose1d": (lambda x, w, b: F.conv_transpose1d(x, w, b, stride=2, padding=1, output_padding=1),
                         lambda x, w, b: TF.conv_transpose1d(x, w, b, stride=2, padding=1, output_padding=1),
                         [_r(2, 3, 5), _r(3, 2, 3, seed=1), _r(2, seed=2)], True),
    "conv_transpose3d": (lambda x, w, b: F.conv_transpose3d(x, w, b, stride=(2, 1, 3), padding=(1, 0, 1),
                                                            output_padding=(1, 0, 2), dilation=(1, 2, 1)),
                         lambda x, w, b: TF.conv_transpose3d(x, w, b, stride=(2, 1, 3), padding=(1, 0, 1),
                                                             output_padding=(1, 0, 2), dilation=(1, 2, 1)),
                         [_r(1, 2, 2, 3, 2), _r(2, 2, 2, 2, 2, seed=1), _r(2, seed=2)], True),
    "max_pool3d": (lambda x: F.max_pool3d(x, (2, 2, 3), stride=(1, 2, 2), padding=(1, 1, 1)),
                   lambda x: TF.max_pool3d(x, (2, 2, 3), stride=(1, 2, 2), padding=(1, 1, 1)), [_r(1, 2, 3, 4, 5)],
                   True),
    "max_pool3d-ceil-dilation": (lambda x: F.max_pool3d(x, 2, stride=2, dilation=(2, 1, 1), ceil_mode=True),
                                 lambda x: TF.max_pool3d(x, 2, stride=2, dilation=(2, 1, 1), ceil_mode=True),
                                 [_r(1, 2, 5, 5, 5)], False),
    "avg_pool3d": (lambda x: F.avg_pool3d(x, (3, 2, 2), stride=(2, 1, 2), padding=(1, 1, 0)),
                   lambda x: TF.avg_pool3d(x, (3, 2, 2), stride=(2, 1, 2), padding=(1, 1, 0)), [_r(2, 2, 5, 4, 4)],
                   True),
    "avg_pool3d-exclude-pad": (lambda x: F.avg_pool3d(x, 3, stride=2, padding=1, count_include_pad=False),
                               lambda x: TF.avg_pool3d(x, 3, stride=2, padding=1, count_include_pad=False),
                               [_r(1, 2, 5, 4, 5)], False),
    "adaptive_max_pool2d": (lambda x: F.adaptive_max_pool2d(x, (3, 4)), lambda x: TF.adaptive_max_pool2d(x, (3, 4)),
                            [_r(2, 2, 7, 9)], True),
    "adaptive_max_pool1d": (lambda x: F.adaptive_max_pool1d(x, 4), lambda x: TF.adaptive_max_pool1d(x, 4),
                            [_r(2, 3, 10)], True),
    "adaptive_avg_pool1d": (lambda x: F.adaptive_avg_pool1d(x, 3), lambda x: TF.adaptive_avg_pool1d(x, 3),
                            [_r(2, 3, 7)], True),
    "instance_norm": (lambda x, w, b: F.instance_norm(x, weight=w, bias=b, eps=1e-3),
                      lambda x, w, b: TF.instance_norm(x, weight=w, bias=b, eps=1e-3),
                      [_r(2, 3, 4, 3, scale=2, shift=1), _r(3, seed=1), _r(3, seed=2)], True),
    "instance_norm-1d": (lambda x: F.instance_norm(x), lambda x: TF.instance_norm(x), [_r(3, 2, 5)], True),
    "rms_norm": (lambda x, w: F.rms_norm(x, (3, 4), w, eps=1e-4), lambda x, w: TF.rms_norm(x, (3, 4), w, eps=1e-4),
                 [_r(2, 3, 4), _r(3, 4, seed=1)], True),
    "local_response_norm": (lambda x: F.local_response_norm(x, 3, alpha=0.5, beta=0.6, k=1.5),
                            lambda x: TF.local_response_norm(x, 3, alpha=0.5, beta=0.6, k=1.5), [_r(2, 5, 3, 2)],
                            True),
    "glu": (lambda x: F.glu(x, 1), lambda x: TF.glu(x, 1), [_r(2, 4, 3)], True),
    "softmin": (lambda x: F.softmin(x, dim=1), lambda x: TF.softmin(x, dim=1), [_r(3, 4)], True),
    "threshold": (lambda x: F.threshold(x, 0.2, -1.0), lambda x: TF.threshold(x, 0.2, -1.0), [_r(3, 4)], True),
    "hardshrink": (lambda x: F.hardshrink(x, 0.3), lambda x: TF.hardshrink(x, 0.3), [_r(3, 4)], True),
    "softshrink": (lambda x: F.softshrink(x, 0.3), lambda x: TF.softshrink(x, 0.3), [_r(3, 4)], True),
    "rrelu-eval": (lambda x: F.rrelu(x, 0.1, 0.3), lambda x: TF.rrelu(x, 0.1, 0.3), [_r(3, 4)], True),
    "pairwise_distance": (lambda a, b: F.pairwise_distance(a, b, p=3.0), lambda a, b: TF.pairwise_distance(a, b, p=3.0),
                          [_r(4, 5), _r(4, 5, seed=1)], True),
    "cosine_similarity": (lambda a, b: F.cosine_similarity(a, b, dim=1),
                          lambda a, b: TF.cosine_similarity(a, b, dim=1), [_r(4, 5), _r(1, 5, seed=1)], True),
    "pixel_shuffle": (lambda x: F.pixel_shuffle(x, 2), lambda x: TF.pixel_shuffle(x, 2), [_r(2, 8, 2, 3)], True),
    "pixel_unshuffle": (lambda x: F.pixel_unshuffle(x, 2), lambda x: TF.pixel_unshuffle(x, 2), [_r(1, 2, 4, 6)],
                        True),
    "unfold": (lambda x: F.unfold(x, (2, 3), dilation=(2, 1), padding=1, stride=(1, 2)),
               lambda x: TF.unfold(x, (2, 3), dilation=(2, 1), padding=1, stride=(1, 2)), [_r(2, 2, 5, 6)], True),
    "fold": (lambda x: F.fold(x, (5, 6), (2, 3), dilation=(2, 1), padding=1, stride=(1, 2)),
             lambda x: TF.fold(x, (5, 6), (2, 3), dilation=(2, 1), padding=1, stride=(1, 2)), [_r(2, 12, 15)], True),
    "embedding_bag-mean": (lambda w: F.embedding_bag(mathdl.tensor(np.array([1, 2, 4, 5, 4, 3])), w,
                                                     mathdl.tensor(np.array([0, 2, 2])), mode="mean"),
                           lambda w: TF.embedding_bag(torch.tensor([1, 2, 4, 5, 4, 3]), w, torch.tensor([0, 2, 2]),
                                                      mode="mean"), [_r(6, 3)], True),
    "embedding_bag-max-2d": (lambda w: F.embedding_bag(mathdl.tensor(I3), w, mode="max"),
                             lambda w: TF.embedding_bag(torch.tensor(I3), w, mode="max"), [_r(4, 3)], True),
    "embedding_bag-weighted": (lambda w, p: F.embedding_bag(mathdl.tensor(I3), w, mode="sum", per_sample_weights=p),
                               lambda w, p: TF.embedding_bag(torch.tensor(I3), w, mode="sum", per_sample_weights=p),
                               [_r(4, 3), _r(2, 3, seed=1)], True),
    "interpolate-linear": (lambda x: F.interpolate(x, scale_factor=1.5, mode="linear"),
                           lambda x: TF.interpolate(x, scale_factor=1.5, mode="linear"), [_r(2, 3, 5)], True),
    "interpolate-bicubic": (lambda x: F.interpolate(x, size=(5, 3), mode="bicubic", align_corners=False),
                            lambda x: TF.interpolate(x, size=(5, 3), mode="bicubic", align_corners=False),
                            [_r(1, 2, 4, 4)], True),
    "interpolate-trilinear": (lambda x: F.interpolate(x, scale_factor=(2, 1.5, 1), mode="trilinear",
                                                      align_corners=True),
                              lambda x: TF.interpolate(x, scale_factor=(2, 1.5, 1), mode="trilinear",
                                                       align_corners=True), [_r(1, 2, 2, 3, 2)], True),
    "interpolate-area": (lambda x: F.interpolate(x, size=(3, 2), mode="area"),
                         lambda x: TF.interpolate(x, size=(3, 2), mode="area"), [_r(1, 2, 5, 5)], True),
    "interpolate-nearest-exact": (lambda x: F.interpolate(x, size=7, mode="nearest-exact"),
                                  lambda x: TF.interpolate(x, size=7, mode="nearest-exact"), [_r(2, 2, 4)], True),
    "affine_grid": (lambda t: F.affine_grid(t, (2, 3, 4, 5), align_corners=False),
                    lambda t: TF.affine_grid(t, (2, 3, 4, 5), align_corners=False), [_r(2, 2, 3)], True),
    "grid_sample-bilinear-zeros": (lambda x, g: F.grid_sample(x, g, align_corners=False),
                                   lambda x, g: TF.grid_sample(x, g, align_corners=False),
                                   [_r(1, 2, 4, 5), np.random.default_rng(3).uniform(-1.3, 1.3, (1, 3, 2, 2))], True),
    "grid_sample-border-corners": (lambda x, g: F.grid_sample(x, g, padding_mode="border", align_corners=True),
                                   lambda x, g: TF.grid_sample(x, g, padding_mode="border", align_corners=True),
                                   [_r(1, 2, 4, 5), np.random.default_rng(4).uniform(-1.3, 1.3, (1, 3, 2, 2))], True),
    "grid_sample-reflection": (lambda x, g: F.grid_sample(x, g, padding_mode="reflection", align_corners=False),
                               lambda x, g: TF.grid_sample(x, g, padding_mode="reflection", align_corners=False),
                               [_r(1, 2, 4, 5), np.random.default_rng(5).uniform(-1.3, 1.3, (1, 3, 2, 2))], True),
    "grid_sample-nearest": (lambda x: F.grid_sample(x, mathdl.tensor(G6), mode="nearest", align_corners=False),
                            lambda x: TF.grid_sample(x, torch.tensor(G6), mode="nearest", align_corners=False),
                            [_r(1, 2, 4, 5)], True),
    "pdist": (lambda x: F.pdist(x, p=1.5), lambda x: TF.pdist(x, p=1.5), [_r(4, 3)], True),
    "tanhshrink": (lambda x: F.tanhshrink(x), lambda x: TF.tanhshrink(x), [_r(3, 4)], True),
    "channel_shuffle": (lambda x: F.channel_shuffle(x, 3), lambda x: TF.channel_shuffle(x, 3), [_r(2, 6, 2)], True),
    "adaptive_avg_pool3d": (lambda x: F.adaptive_avg_pool3d(x, (2, 3, 2)),
                            lambda x: TF.adaptive_avg_pool3d(x, (2, 3, 2)), [_r(1, 2, 5, 4, 3)], True),
    "adaptive_max_pool3d": (lambda x: F.adaptive_max_pool3d(x, (2, 3, 2)),
                            lambda x: TF.adaptive_max_pool3d(x, (2, 3, 2)), [_r(1, 2, 5, 4, 3)], True),
    "lp_pool2d": (lambda x: F.lp_pool2d(x, 3, 2), lambda x: TF.lp_pool2d(x, 3, 2), [_pos(1, 2, 4, 4)], True),
    "max_unpool2d": (lambda x: F.max_unpool2d(x, mathdl.tensor(np.array([[[[0, 3], [9, 14]]]])), 2),
                     lambda x: TF.max_unpool2d(x, torch.tensor([[[[0, 3], [9, 14]]]]), 2), [_r(1, 1, 2, 2)], True),
    "triplet_margin_loss": (lambda a, p, n: F.triplet_margin_loss(a, p, n, margin=0.7, swap=True),
                            lambda a, p, n: TF.triplet_margin_loss(a, p, n, margin=0.7, swap=True),
                            [_r(4, 3), _r(4, 3, seed=1), _r(4, 3, seed=2)], True),
    "hinge_embedding_loss": (lambda x: F.hinge_embedding_loss(x, mathdl.tensor(np.array([1., -1, -1, 1])), 0.5),
                             lambda x: TF.hinge_embedding_loss(x, torch.tensor([1., -1, -1, 1]), 0.5), [_r(4)], True),
    "soft_margin_loss": (lambda x: F.soft_margin_loss(x, mathdl.tensor(np.array([1., -1, -1, 1]))),
                         lambda x: TF.soft_margin_loss(x, torch.tensor([1., -1, -1, 1])), [_r(4)], True),
    "multi_margin_loss": (lambda x: F.multi_margin_loss(x, mathdl.tensor(np.array([2, 0, 1])), p=2, margin=0.8,
                                                        weight=mathdl.tensor(_pos(4, seed=1))),
                          lambda x: TF.multi_margin_loss(x, torch.tensor([2, 0, 1]), p=2, margin=0.8,
                                                         weight=torch.tensor(_pos(4, seed=1))),
                          [_r(3, 4)], True),
    "multilabel_margin_loss": (lambda x: F.multilabel_margin_loss(x, mathdl.tensor(np.array([[3, 0, -1, 1],
                                                                                              [1, 2, 3, 0]]))),
                               lambda x: TF.multilabel_margin_loss(x, torch.tensor([[3, 0, -1, 1], [1, 2, 3, 0]])),
                               [_r(2, 4)], True),
    "multilabel_soft_margin_loss": (
        lambda x, w: F.multilabel_soft_margin_loss(x, mathdl.tensor(np.array([[1., 0, 1], [0, 0, 1]])), w),
        lambda x, w: TF.multilabel_soft_margin_loss(x, torch.tensor([[1., 0, 1], [0, 0, 1]]), w),
        [_r(2, 3), _pos(3, seed=1)], True),
}


def _md(arrays):
    return [mathdl.tensor(a, dtype=mathdl.float64, requires_grad=True) for a in arrays]


@pytest.mark.parametrize("name", list(CASES))
def test_forward_and_gradients_match_torch(name):
    f, tf, arrays, _ = CASES[name]
    xs = _md(arrays)
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, ty = f(*xs), tf(*ts)
    assert tuple(y.shape) == tuple(ty.shape)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = np.random.default_rng(5).standard_normal(tuple(ty.shape))
    (y * mathdl.tensor(g)).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("name", list(CASES))
def test_gradcheck(name):
    f, _, arrays, second = CASES[name]
    xs = _md(arrays)
    assert gradcheck(f, xs)
    if second:
        assert gradgradcheck(f, xs)


def test_ctc_matches_torch_through_log_softmax():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((10, 3, 5))
    targets = np.array([[1, 2, 2, 0], [3, 1, 4, 4], [2, 0, 0, 0]])
    il, tl = np.array([10, 9, 6]), np.array([3, 4, 1])
    for red in ("none", "sum", "mean"):
        x = mathdl.tensor(logits, requires_grad=True)
        xt = torch.tensor(logits, requires_grad=True)
        y = F.ctc_loss(F.log_softmax(x, 2), mathdl.tensor(targets), il, tl, reduction=red)
        yt = TF.ctc_loss(TF.log_softmax(xt, 2), torch.tensor(targets), torch.tensor(il), torch.tensor(tl),
                         reduction=red)
        np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-10)
        y.sum().backward()
        yt.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-8, atol=1e-12)
    # 1-D concatenated targets and another blank
    y = F.ctc_loss(F.log_softmax(mathdl.tensor(logits), 2), mathdl.tensor(np.array([1, 2, 3, 0, 2, 1, 1])), il,
                   [3, 2, 2], blank=4)
    yt = TF.ctc_loss(TF.log_softmax(torch.tensor(logits), 2), torch.tensor([1, 2, 3, 0, 2, 1, 1]), torch.tensor(il),
                     torch.tensor([3, 2, 2]), blank=4)
    assert y.item() == pytest.approx(yt.item(), rel=1e-12)


def test_ctc_exact_on_a_tiny_case_and_gradcheck():
    """T = 2, target "a": the alignments are (a, a), (a, b), (b, a), so p = y0a y1a + y0a y1b + y0b y1a."""
    lp = np.log(np.array([[[0.3, 0.7]], [[0.6, 0.4]]]))  # classes (blank, a)
    y = F.ctc_loss(mathdl.tensor(lp), mathdl.tensor(np.array([[1]])), [2], [1], reduction="sum")
    p = 0.7 * 0.4 + 0.7 * 0.6 + 0.3 * 0.4
    assert y.item() == pytest.approx(-np.log(p), rel=1e-12)
    x = mathdl.tensor(np.log(np.random.default_rng(1).dirichlet(np.ones(4), size=(6, 2))), requires_grad=True)
    assert gradcheck(lambda x: F.ctc_loss(x, mathdl.tensor(np.array([[1, 1], [2, 3]])), [6, 5], [2, 2]), [x])


def test_ctc_infinite_and_zero_infinity():
    lp = F.log_softmax(mathdl.tensor(np.random.default_rng(0).standard_normal((2, 1, 4))), 2)
    y = F.ctc_loss(lp, mathdl.tensor(np.array([[1, 1]])), [2], [2], reduction="none")  # needs 3 frames
    assert np.isinf(y.numpy()).all()
    assert F.ctc_loss(lp, mathdl.tensor(np.array([[1, 1]])), [2], [2], zero_infinity=True).item() == 0.0


def test_ctc_second_derivative_is_a_clear_error():
    x = mathdl.tensor(np.log(np.full((3, 1, 3), 1 / 3)), requires_grad=True)
    (g,) = mathdl.autograd.grad(F.ctc_loss(x, mathdl.tensor(np.array([[1]])), [3], [1]), [x], create_graph=True)
    with pytest.raises(RuntimeError, match="second derivatives"):
        g.sum().backward()


def test_rrelu_training_draws_slopes_in_range():
    x = mathdl.tensor(_r(2000))
    y = F.rrelu(x, 0.1, 0.3, training=True).numpy()
    neg = x.numpy() < 0
    slopes = y[neg] / x.numpy()[neg]
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3 and slopes.std() > 0.03
    np.testing.assert_array_equal(y[~neg], x.numpy()[~neg])


@pytest.mark.parametrize("call,exc,word", [
    (lambda x: F.pad(x, (1, 1), mode="wrap"), ValueError, "mode"),
    (lambda x: F.pad(x, (5, 0), mode="reflect"), ValueError, "reflect padding"),
    (lambda x: F.pad(x, (1,)), ValueError, "even number"),
    (lambda x: F.interpolate(x, scale_factor=2, mode="bilinear"), ValueError, "does not apply"),
    (lambda x: F.interpolate(x, size=4, mode="nearest", align_corners=True), ValueError, "align_corners"),
    (lambda x: F.glu(x, 0), ValueError, "even"),
    (lambda x: F.pixel_shuffle(x, 3), ValueError, "pixel_shuffle"),
    (lambda x: F.fold(x, (3, 3), 2), ValueError, "divisible"),
    (lambda x: F.fold(x[:, :2], (3, 3), (2, 1)), ValueError, "blocks"),
    (lambda x: F.conv3d(x, x), ValueError, "5-D input"),
    (lambda x: F.max_pool3d(x, 2), ValueError, "5-D input"),
    (lambda x: F.adaptive_max_pool2d(x, 0), ValueError, "output_size"),
    (lambda x: F.rms_norm(x, (5,)), ValueError, "normalized_shape"),
    (lambda x: F.local_response_norm(x, 0), ValueError, "size"),
    (lambda x: F.hardshrink(x, -1), ValueError, "lambd"),
    (lambda x: F.ctc_loss(x, mathdl.tensor(np.zeros((3, 1), int)), [3] * 3, [1] * 3), ValueError, "blank"),
    (lambda x: F.ctc_loss(x, mathdl.tensor(np.ones((3, 1), int)), [9] * 3, [1] * 3), ValueError, "input_lengths"),
    (lambda x: F.ctc_loss(x, mathdl.tensor(np.ones((3, 1), int)), [3], [1]), ValueError, "3 entries"),
    (lambda x: F.multilabel_margin_loss(x, mathdl.tensor(np.zeros((3, 4), int))), ValueError, "target shape"),
])
def test_bad_input(call, exc, word):
    x = mathdl.tensor(_r(3, 3, 3))
    with pytest.raises(exc, match=word):
        call(x)


def test_gumbel_softmax_resolves_lazily():
    try:
        import mathdl.distributions.relaxed as relaxed
    except ModuleNotFoundError:
        with pytest.raises((AttributeError, ModuleNotFoundError)):
            F.gumbel_softmax  # noqa: B018
        return
    assert F.gumbel_softmax is relaxed.gumbel_softmax
