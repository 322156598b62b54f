"""The layers added with the layout by topic: same parameters and buffers as torch.nn (names,
shapes, defaults), same outputs and gradients with copied weights; constructor errors; nn.utils;
the public import paths of the layout."""

import math

import numpy as np
import pytest

import mathdl
import mathdl.nn as nn

torch = pytest.importorskip("torch")
tnn = torch.nn


def _r(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _copy_into(ours, ref):
    """Copy torch's parameters and buffers into ours (they must have the same names and shapes)."""
    sd, tsd = ours.state_dict(), ref.state_dict()
    assert list(sd) == list(tsd)
    for k, v in tsd.items():
        assert tuple(sd[k].shape) == tuple(v.shape), k
    ours.load_state_dict({k: mathdl.tensor(v.detach().numpy()) for k, v in tsd.items()})


LAYERS = {
    "Conv3d": (lambda m: m.Conv3d(4, 6, (2, 3, 2), stride=(1, 2, 1), padding=1, groups=2), (2, 4, 3, 5, 4)),
    "ConvTranspose1d": (lambda m: m.ConvTranspose1d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
                        (2, 4, 5)),
    "ConvTranspose3d": (lambda m: m.ConvTranspose3d(4, 6, (2, 3, 2), stride=(2, 1, 2), padding=(1, 0, 0),
                                                    output_padding=(1, 0, 1), groups=2), (2, 4, 3, 3, 2)),
    "InstanceNorm1d": (lambda m: m.InstanceNorm1d(3), (2, 3, 5)),
    "InstanceNorm2d-affine-tracked": (lambda m: m.InstanceNorm2d(3, affine=True, track_running_stats=True),
                                      (2, 3, 4, 3)),
    "RMSNorm": (lambda m: m.RMSNorm([3, 4]), (2, 3, 4)),
    "LocalResponseNorm": (lambda m: m.LocalResponseNorm(3, alpha=0.3), (2, 5, 3, 2)),
    "ZeroPad2d": (lambda m: m.ZeroPad2d((1, 2, 0, 1)), (2, 3, 4, 4)),
    "ConstantPad1d": (lambda m: m.ConstantPad1d(2, 3.5), (2, 3, 4)),
    "ConstantPad2d": (lambda m: m.ConstantPad2d((1, 0, 2, 1), -1.0), (2, 3, 4, 4)),
    "ReflectionPad1d": (lambda m: m.ReflectionPad1d((2, 1)), (2, 3, 4)),
    "ReflectionPad2d": (lambda m: m.ReflectionPad2d(2), (2, 3, 4, 4)),
    "ReplicationPad1d": (lambda m: m.ReplicationPad1d((0, 3)), (2, 3, 4)),
    "ReplicationPad2d": (lambda m: m.ReplicationPad2d((1, 2, 3, 0)), (2, 3, 4, 4)),
    "CircularPad1d": (lambda m: m.CircularPad1d(2), (2, 3, 4)),
    "CircularPad2d": (lambda m: m.CircularPad2d((1, 2, 3, 0)), (2, 3, 4, 4)),
    "PixelShuffle": (lambda m: m.PixelShuffle(2), (2, 8, 3, 2)),
    "PixelUnshuffle": (lambda m: m.PixelUnshuffle(2), (2, 2, 4, 6)),
    "Unfold": (lambda m: m.Unfold((2, 3), padding=1, stride=2), (2, 3, 5, 6)),
    "Fold": (lambda m: m.Fold((4, 5), (2, 2)), (2, 8, 12)),
    "MaxPool3d": (lambda m: m.MaxPool3d(2, stride=(1, 2, 2), padding=1), (2, 2, 3, 4, 5)),
    "AvgPool3d": (lambda m: m.AvgPool3d((2, 3, 2), stride=2), (2, 2, 4, 5, 4)),
    "AdaptiveMaxPool1d": (lambda m: m.AdaptiveMaxPool1d(3), (2, 3, 8)),
    "AdaptiveMaxPool2d": (lambda m: m.AdaptiveMaxPool2d((2, None)), (2, 3, 5, 4)),
    "AdaptiveAvgPool1d": (lambda m: m.AdaptiveAvgPool1d(3), (2, 3, 8)),
    "GLU": (lambda m: m.GLU(), (3, 4)),
    "Softmin": (lambda m: m.Softmin(dim=1), (3, 4)),
    "Threshold": (lambda m: m.Threshold(0.1, 20.0), (3, 4)),
    "Hardshrink": (lambda m: m.Hardshrink(), (3, 4)),
    "Softshrink": (lambda m: m.Softshrink(0.2), (3, 4)),
    "Identity": (lambda m: m.Identity(3, unused=1), (3, 4)),
    "BatchNorm3d": (lambda m: m.BatchNorm3d(3), (2, 3, 2, 3, 2)),
    "Tanhshrink": (lambda m: m.Tanhshrink(), (3, 4)),
    "Softmax2d": (lambda m: m.Softmax2d(), (2, 3, 2, 2)),
    "ChannelShuffle": (lambda m: m.ChannelShuffle(2), (2, 6, 2, 3)),
    "UpsamplingNearest2d": (lambda m: m.UpsamplingNearest2d(scale_factor=2), (2, 3, 2, 3)),
    "UpsamplingBilinear2d": (lambda m: m.UpsamplingBilinear2d(size=(5, 4)), (2, 3, 2, 3)),
    "AdaptiveAvgPool3d": (lambda m: m.AdaptiveAvgPool3d((2, 3, 2)), (2, 2, 5, 4, 3)),
    "AdaptiveMaxPool3d": (lambda m: m.AdaptiveMaxPool3d((2, 3, 2)), (2, 2, 5, 4, 3)),
    "LPPool1d": (lambda m: m.LPPool1d(3, 2), (2, 3, 7)),
    "Dropout1d-eval-identity": (lambda m: m.Dropout1d(0.0), (2, 3, 7)),
    "Flatten": (lambda m: m.Flatten(), (2, 3, 4)),
    "Unflatten": (lambda m: m.Unflatten(1, (2, 2)), (3, 4)),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_matches_torch(name):
    make, shape = LAYERS[name]
    ours, ref = make(nn).double(), make(tnn).double()
    _copy_into(ours, ref)
    for training in (True, False):
        ours.train(training)
        ref.train(training)
        x_np = _r(*shape, seed=1)
        x = mathdl.tensor(x_np, requires_grad=True)
        xt = torch.tensor(x_np, requires_grad=True)
        y, yt = ours(x), ref(xt)
        np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
        g = _r(*yt.shape, seed=2)
        (y * mathdl.tensor(g)).sum().backward()
        (yt * torch.tensor(g)).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-11)
        for (k, p), (_, tp) in zip(ours.named_parameters(), ref.named_parameters()):
            np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-9, atol=1e-11, err_msg=k)
            p.grad = None
            tp.grad = None
        for (k, b), (_, tb) in zip(ours.named_buffers(), ref.named_buffers()):
            np.testing.assert_allclose(b.numpy(), tb.numpy(), rtol=1e-12, atol=1e-14, err_msg=k)


def test_conv3d_and_conv_transpose1d_default_init_bounds():
    mathdl.manual_seed(0)
    c = nn.Conv3d(2, 3, (2, 3, 1))
    fan_in = 2 * 6
    assert tuple(c.weight.shape) == (3, 2, 2, 3, 1) and tuple(c.bias.shape) == (3,)
    assert np.abs(c.weight.numpy()).max() <= 1 / math.sqrt(fan_in) + 1e-7
    assert np.abs(c.bias.numpy()).max() <= 1 / math.sqrt(fan_in) + 1e-7
    t = nn.ConvTranspose1d(4, 6, 3, groups=2)
    assert tuple(t.weight.shape) == (4, 3, 3)
    assert np.abs(t.weight.numpy()).max() <= 1 / math.sqrt(9) + 1e-7


def test_embedding_bag_module_matches_torch():
    for mode in ("sum", "mean", "max"):
        ours = nn.EmbeddingBag(7, 3, mode=mode, padding_idx=2).double()
        ref = tnn.EmbeddingBag(7, 3, mode=mode, padding_idx=2).double()
        _copy_into(ours, ref)
        idx, off = np.array([1, 2, 4, 6, 4, 3, 2]), np.array([0, 3, 3, 5])
        y = ours(mathdl.tensor(idx), mathdl.tensor(off))
        yt = ref(torch.tensor(idx), torch.tensor(off))
        np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-12)
        y.sum().backward()
        yt.sum().backward()
        np.testing.assert_allclose(ours.weight.grad.numpy(), ref.weight.grad.numpy(), rtol=1e-12)
    assert nn.EmbeddingBag(5, 2, padding_idx=1).weight.numpy()[1].tolist() == [0.0, 0.0]


def test_lp_pool2d_matches_torch_on_positive_input():
    x = np.abs(_r(2, 3, 6, 5)) + 0.1
    y = nn.LPPool2d(2, (2, 3), stride=2)(mathdl.tensor(x)).numpy()
    np.testing.assert_allclose(y, tnn.LPPool2d(2, (2, 3), stride=2)(torch.tensor(x)).numpy(), rtol=1e-12)


def test_max_unpool_inverts_max_pool_like_torch():
    x = _r(2, 3, 6, 5)
    y, idx = nn.MaxPool2d(2, return_indices=True)(mathdl.tensor(x))
    yt, it = tnn.MaxPool2d(2, return_indices=True)(torch.tensor(x))
    u = nn.MaxUnpool2d(2)(y, idx, output_size=(6, 5))
    np.testing.assert_array_equal(u.numpy(), tnn.MaxUnpool2d(2)(yt, it, output_size=(6, 5)).numpy())
    x1 = _r(2, 3, 9)
    y1, i1 = mathdl.nn.functional.max_pool1d_with_indices(mathdl.tensor(x1), 3)
    yt1, it1 = torch.nn.functional.max_pool1d_with_indices(torch.tensor(x1), 3)
    np.testing.assert_array_equal(i1.numpy(), it1.numpy())
    np.testing.assert_array_equal(nn.MaxUnpool1d(3)(y1, i1).numpy(), tnn.MaxUnpool1d(3)(yt1, it1).numpy())


def test_channel_dropouts_zero_whole_channels():
    mathdl.manual_seed(0)
    for m, shape in ((nn.Dropout1d(0.5), (4, 8, 5)), (nn.Dropout3d(0.5), (4, 8, 2, 2, 2))):
        y = m(mathdl.tensor(np.ones(shape))).numpy().reshape(shape[0], shape[1], -1)
        assert set(np.unique(y)) <= {0.0, 2.0}
        assert np.all(y.min(axis=2) == y.max(axis=2))  # whole channels
        assert 0 < (y[:, :, 0] == 0).mean() < 1
        m.eval()
        np.testing.assert_array_equal(m(mathdl.tensor(np.ones(shape))).numpy(), 1.0)
    y = nn.FeatureAlphaDropout(0.5)(mathdl.tensor(np.zeros((64, 16, 3)))).numpy()
    assert np.all(y.min(axis=2) == y.max(axis=2))


def test_dirac_and_sparse_init():
    for shape, groups in (((4, 4, 3), 1), ((6, 2, 3, 3), 3), ((2, 5, 3, 3, 3), 1)):
        w = mathdl.tensor(np.zeros(shape))
        t = torch.zeros(shape)
        nn.init.dirac_(w, groups)
        torch.nn.init.dirac_(t, groups)
        np.testing.assert_array_equal(w.numpy(), t.numpy())
    w = mathdl.tensor(np.zeros((10, 4)))
    nn.init.sparse_(w, 0.3, std=0.5)
    assert ((w.numpy() == 0).sum(axis=0) == 3).all() and w.numpy().std() > 0.1
    with pytest.raises(ValueError, match="groups"):
        nn.init.dirac_(mathdl.tensor(np.zeros((5, 2, 3))), 2)


def test_triplet_with_distance_loss_matches_torch():
    a, p, n = (_r(4, 3, seed=s) for s in range(3))

    def cos_dist(x, y):
        return 1 - mathdl.nn.functional.cosine_similarity(x, y)

    def tcos_dist(x, y):
        return 1 - torch.nn.functional.cosine_similarity(x, y)

    y = nn.TripletMarginWithDistanceLoss(distance_function=cos_dist, margin=0.3, swap=True)(
        *map(mathdl.tensor, (a, p, n)))
    yt = tnn.TripletMarginWithDistanceLoss(distance_function=tcos_dist, margin=0.3, swap=True)(
        *map(torch.tensor, (a, p, n)))
    assert y.item() == pytest.approx(yt.item(), rel=1e-12)
    y = nn.TripletMarginWithDistanceLoss()(*map(mathdl.tensor, (a, p, n)))
    assert y.item() == pytest.approx(tnn.TripletMarginWithDistanceLoss()(*map(torch.tensor, (a, p, n))).item())


def test_inplace_activations():
    import mathdl.nn.functional as F

    x = mathdl.tensor(np.array([-1.0, 2.0]))
    assert F.relu_(x) is x and x.numpy().tolist() == [0.0, 2.0]
    with pytest.raises(RuntimeError, match="relu_"):
        F.relu_(mathdl.tensor(np.array([1.0]), requires_grad=True))


def test_rrelu_module_modes():
    m = nn.RReLU(0.1, 0.3)
    x = mathdl.tensor(-np.ones(1000))
    m.eval()
    np.testing.assert_allclose(m(x).numpy(), -0.2)
    m.train()
    assert m(x).numpy().std() > 0.03


@pytest.mark.parametrize("name,args", [
    ("TripletMarginLoss", dict(margin=0.5, p=1.0, swap=True)),
    ("HingeEmbeddingLoss", dict(margin=0.5)),
    ("SoftMarginLoss", dict(reduction="sum")),
    ("MultiMarginLoss", dict(p=2, margin=0.5)),
    ("MultiLabelMarginLoss", dict()),
    ("MultiLabelSoftMarginLoss", dict(reduction="none")),
    ("CTCLoss", dict(blank=1, zero_infinity=True)),
])
def test_loss_modules_match_torch(name, args):
    rng = np.random.default_rng(0)
    if name == "TripletMarginLoss":
        data = [rng.standard_normal((4, 3)) for _ in range(3)]
        extra, textra = [], []
    elif name == "CTCLoss":
        lp = np.log(rng.dirichlet(np.ones(4), size=(7, 2)))
        data, tg = [lp], np.array([[2, 3, 3], [0, 2, 0]])
        extra = [mathdl.tensor(tg), [7, 5], [3, 2]]
        textra = [torch.tensor(tg), torch.tensor([7, 5]), torch.tensor([3, 2])]
    else:
        data = [rng.standard_normal((3, 4))]
        tg = {"HingeEmbeddingLoss": np.sign(rng.standard_normal((3, 4))),
              "SoftMarginLoss": np.sign(rng.standard_normal((3, 4))),
              "MultiMarginLoss": np.array([1, 3, 0]),
              "MultiLabelMarginLoss": np.array([[1, 3, -1, 0], [0, 1, 2, 3], [-1, 1, 1, 1]]),
              "MultiLabelSoftMarginLoss": (rng.random((3, 4)) > 0.5).astype(float)}[name]
        extra, textra = [mathdl.tensor(tg)], [torch.tensor(tg)]
    ours, ref = getattr(nn, name)(**args), getattr(tnn, name)(**args)
    xs = [mathdl.tensor(d, requires_grad=True) for d in data]
    ts = [torch.tensor(d, requires_grad=True) for d in data]
    y, yt = ours(*xs, *extra), ref(*ts, *textra)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    if name != "CTCLoss":  # CTC: torch's gradient of log_probs differs by exp(log_probs), see ops.losses
        y.sum().backward()
        yt.sum().backward()
        for x, t in zip(xs, ts):
            np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("make,exc,word", [
    (lambda: nn.Conv2d(3, 4, -1), ValueError, "kernel_size"),
    (lambda: nn.Conv2d(3, -4, 3), ValueError, "out_channels"),
    (lambda: nn.Conv2d(3, 4, 3, stride=0), ValueError, "stride"),
    (lambda: nn.Conv2d(3, 4, 3, padding=-1), ValueError, "padding"),
    (lambda: nn.Conv2d(3, 4, 3, padding="full"), ValueError, "padding"),
    (lambda: nn.Conv1d(0, 4, 3), ValueError, "in_channels"),
    (lambda: nn.Conv3d(2, 4, (1, 2)), ValueError, "kernel_size"),
    (lambda: nn.ConvTranspose2d(2, 4, 3, dilation=0), ValueError, "dilation"),
    (lambda: nn.ConvTranspose1d(2, 4, 3, groups=3), ValueError, "groups"),
    (lambda: nn.Conv2d(3, 4, 2.5), TypeError, "kernel_size"),
    (lambda: nn.Linear(-1, 3), ValueError, "in_features"),
    (lambda: nn.Linear(3, -2), ValueError, "out_features"),
    (lambda: nn.Bilinear(2, -3, 4), ValueError, "in2_features"),
    (lambda: nn.Embedding(-5, 3), ValueError, "num_embeddings"),
    (lambda: nn.EmbeddingBag(5, 3, mode="median"), ValueError, "mode"),
    (lambda: nn.BatchNorm2d(-3), ValueError, "num_features"),
    (lambda: nn.InstanceNorm1d(0), ValueError, "num_features"),
    (lambda: nn.LayerNorm((3, -1)), ValueError, "normalized_shape"),
    (lambda: nn.RMSNorm(0), ValueError, "normalized_shape"),
    (lambda: nn.GroupNorm(0, 4), ValueError, "num_groups"),
    (lambda: nn.MaxPool2d(0), ValueError, "kernel_size"),
    (lambda: nn.AvgPool3d(2, stride=-1), ValueError, "stride"),
    (lambda: nn.MaxPool1d(3, padding=-1), ValueError, "padding"),
    (lambda: nn.PixelShuffle(0), ValueError, "upscale_factor"),
    (lambda: nn.Fold((4, 4), 0), ValueError, "kernel_size"),
    (lambda: nn.LocalResponseNorm(0), ValueError, "size"),
    (lambda: nn.ReflectionPad2d((1, 2, 3)), ValueError, "padding"),
    (lambda: nn.ReplicationPad1d(-1), ValueError, "padding"),
    (lambda: nn.TripletMarginLoss(margin=0), ValueError, "margin"),
    (lambda: nn.MultiMarginLoss(p=3), ValueError, "p = 1"),
    (lambda: nn.RReLU(0.5, 0.1), ValueError, "lower"),
    (lambda: nn.MultiheadAttention(-4, 2), ValueError, "embed_dim"),
    (lambda: nn.MultiheadAttention(4, 2, kdim=0), ValueError, "kdim"),
    (lambda: nn.PReLU(0), ValueError, "num_parameters"),
    (lambda: nn.Upsample(scale_factor=-2), ValueError, "scale_factor"),
    (lambda: nn.TransformerEncoderLayer(-8, 2), ValueError, "d_model"),
    (lambda: nn.TransformerEncoderLayer(8, 2, dim_feedforward=-1), ValueError, "dim_feedforward"),
    (lambda: nn.Transformer(d_model=8, nhead=2, num_decoder_layers=-1), ValueError, "num_decoder_layers"),
    (lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2), -1), ValueError, "num_layers"),
    (lambda: nn.SinusoidalPositionalEncoding(-1), ValueError, "d_model"),
    (lambda: nn.LearnedPositionalEncoding(8, max_len=0), ValueError, "max_len"),
    (lambda: nn.Unflatten(1, (2, -3)), ValueError, "unflattened_size"),
    (lambda: nn.AdaptiveAvgPool2d(0), ValueError, "output_size"),
    (lambda: nn.AdaptiveMaxPool1d(-1), ValueError, "output_size"),
])
def test_constructor_errors_name_the_argument(make, exc, word):
    with pytest.raises(exc, match=word):
        make()


def test_instance_norm_unbatched_and_bad_channels():
    m = nn.InstanceNorm1d(3)
    y = m(mathdl.tensor(_r(3, 5)))
    assert tuple(y.shape) == (3, 5)
    np.testing.assert_allclose(y.numpy().mean(axis=1), 0, atol=1e-12)
    with pytest.raises(ValueError, match="channels"):
        m(mathdl.tensor(_r(2, 4, 5)))


# ---------------------------------------------------------------------------- nn.utils
def test_parameters_to_vector_and_back():
    m = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    v = nn.utils.parameters_to_vector(m.parameters())
    assert tuple(v.shape) == (3 * 2 + 2 + 2 + 1,)
    np.testing.assert_array_equal(v.numpy()[:6], m[0].weight.numpy().ravel())
    v.sum().backward()  # differentiable: every parameter gets a gradient of ones
    assert all(np.all(p.grad.numpy() == 1) for p in m.parameters())
    new = mathdl.tensor(np.arange(11, dtype=np.float32))
    nn.utils.vector_to_parameters(new, m.parameters())
    np.testing.assert_array_equal(m[1].bias.numpy(), [10.0])
    np.testing.assert_array_equal(nn.utils.parameters_to_vector(m.parameters()).numpy(), np.arange(11))
    with pytest.raises(ValueError, match="hold 11"):
        nn.utils.vector_to_parameters(mathdl.tensor(np.zeros(5, np.float32)), m.parameters())
    with pytest.raises(TypeError, match="Tensor"):
        nn.utils.vector_to_parameters(np.zeros(11), m.parameters())


def test_clip_grad_is_the_optim_implementation():
    import mathdl.optim.clip as clip

    assert nn.utils.clip_grad_norm_ is clip.clip_grad_norm_
    assert nn.utils.clip_grad_value_ is clip.clip_grad_value_
    p = nn.Parameter(mathdl.tensor(np.zeros(4)))
    p.grad = mathdl.tensor(np.array([3.0, 4.0, 0.0, 0.0]))
    total = nn.utils.clip_grad_norm_([p], 1.0)
    assert float(total) == pytest.approx(5.0)
    np.testing.assert_allclose(p.grad.numpy(), [0.6, 0.8, 0, 0], rtol=1e-5)


# ---------------------------------------------------------------------------- layout
def test_public_import_paths():
    import mathdl.nn.functional as F
    import mathdl.nn.init as init
    from mathdl.nn import modules

    assert nn.functional is F and nn.init is init
    assert nn.Linear is modules.linear.Linear and nn.CrossEntropyLoss is modules.loss.CrossEntropyLoss
    assert F.cross_entropy is nn.functional.loss.cross_entropy
    assert F.ctc_loss.__module__ == "mathdl.nn.functional.loss"
    # one home per loss and level: primitive (ops.losses), function (functional.loss), module (modules.loss)
    assert nn.CTCLoss.__module__ == "mathdl.nn.modules.loss"
    import mathdl.ops.losses as P

    assert hasattr(P, "ctc_nll") and hasattr(P, "softmax_cross_entropy")
    for mod in ("activation", "attention", "batchnorm", "container", "conv", "distance", "dropout", "flatten",
                "fold", "instancenorm", "linear", "loss", "module", "normalization", "padding", "pixelshuffle",
                "pooling", "sparse", "transformer", "upsampling"):
        assert hasattr(modules, mod), mod
    assert mathdl.nn.utils.rnn is not None if hasattr(mathdl.nn.utils, "rnn") else True


def test_module_extras():
    m = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.ReLU())
    assert m.get_buffer("1.running_mean") is m[1].running_mean
    with pytest.raises(AttributeError, match="no buffer"):
        m.get_buffer("0.weight")
    m.set_submodule("2", nn.Tanh())
    assert isinstance(m[2], nn.Tanh)
    assert isinstance(m.pop(0), nn.Linear) and len(m) == 2
    assert m.share_memory() is m and m.compile() is None
    assert m.type(mathdl.float64)[0].weight.dtype == np.float64


def test_lazy_layers_become_the_ordinary_ones():
    mathdl.manual_seed(0)
    m = nn.Sequential(nn.LazyConv2d(4, 3, padding=1), nn.LazyBatchNorm2d(), nn.Flatten(), nn.LazyLinear(2))
    assert list(m.parameters()) == []
    m.eval()
    y = m(mathdl.tensor(np.random.default_rng(0).random((2, 3, 5, 5)).astype(np.float32)))
    assert tuple(y.shape) == (2, 2) and not m[0].training
    assert type(m[0]) is nn.Conv2d and m[0].in_channels == 3 and tuple(m[0].weight.shape) == (4, 3, 3, 3)
    assert type(m[1]) is nn.BatchNorm2d and m[1].num_features == 4
    assert type(m[3]) is nn.Linear and m[3].in_features == 100
    assert np.abs(m[3].weight.numpy()).max() <= 1 / math.sqrt(100) + 1e-7  # PyTorch's init bound
    t = nn.LazyConvTranspose1d(5, 2)
    assert tuple(t(mathdl.tensor(np.zeros((1, 3, 4), np.float32))).shape) == (1, 5, 5)
    assert type(nn.LazyInstanceNorm1d().__call__(mathdl.tensor(_r(2, 3, 4)))) is mathdl.Tensor


def test_layers_accept_device_like_pytorch():
    import inspect

    for cls in (nn.Linear, nn.Conv2d, nn.Conv3d, nn.BatchNorm2d, nn.LayerNorm, nn.Embedding, nn.EmbeddingBag,
                nn.InstanceNorm2d, nn.RMSNorm, nn.GroupNorm, nn.MultiheadAttention, nn.TransformerEncoderLayer,
                nn.LazyLinear, nn.PReLU, nn.Bilinear, nn.ConvTranspose1d):
        names = list(inspect.signature(cls.__init__).parameters)
        assert names.index("device") + 1 == names.index("dtype"), cls.__name__  # PyTorch's order
    m = nn.Linear(3, 2, device="cpu", dtype=mathdl.float64)
    assert m.weight.dtype == np.float64
    assert nn.InstanceNorm1d(3, affine=True, dtype=mathdl.float64).weight.dtype == np.float64
    assert nn.Conv2d(1, 2, 3, device="cpu").weight.dtype == np.float32
