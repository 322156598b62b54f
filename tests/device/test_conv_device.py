"""mathdl/ops/conv_device.py against PyTorch: conv2d's forward, input gradient and weight gradient
(strides, asymmetric padding, dilation, groups, bias) on NumPy arrays and on the emulated device;
the proposed conv.py dispatch (monkeypatched, see launch_count.conv_dispatch) keeps F.conv2d's
values, gradients and second derivatives on the device; and its launches do not grow with the batch."""

from __future__ import annotations

import numpy as np
import pytest

import mathdl as md
import mathdl.nn.functional as F
from mathdl.ops import conv_device

from . import emulated_cupy
from .launch_count import Patch, conv_dispatch, count_step, install

torch = pytest.importorskip("torch")

# (N, C, H, W, O, (kh, kw), stride, (pt, pb, pl, pr), dilation, groups, bias)
CASES = [
    (2, 3, 7, 6, 4, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1, True),     # ResNet's 3x3, stride 1
    (2, 4, 8, 8, 6, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 1, False),    # stride 2: col2im road
    (1, 2, 9, 7, 3, (2, 3), (1, 2), (0, 1, 2, 0), (1, 1), 1, True),     # asymmetric padding and stride
    (2, 3, 9, 9, 2, (3, 2), (1, 1), (2, 2, 1, 1), (2, 3), 1, False),    # dilation
    (2, 4, 6, 6, 6, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 2, True),     # groups
    (1, 4, 5, 6, 8, (3, 3), (2, 1), (1, 1, 1, 1), (1, 2), 4, False),    # depthwise x2, stride and dilation
    (2, 5, 4, 4, 3, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 1, True),     # 1x1: no im2col copy
    (2, 2, 5, 5, 3, (1, 1), (1, 1), (1, 1, 1, 1), (1, 1), 1, False),    # padding > d (k - 1): col2im at stride 1
    (1, 2, 7, 7, 2, (2, 2), (3, 3), (0, 0, 0, 0), (1, 1), 1, False),    # stride > kernel: pixels with no gradient
]
IDS = ["3x3", "stride2", "asym", "dilation", "groups", "depthwise", "1x1", "bigpad", "gapstride"]


def _torch_reference(x, w, b, stride, pads, dil, groups, gy):
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    bt = None if b is None else torch.tensor(b)
    y = torch.nn.functional.conv2d(torch.nn.functional.pad(xt, (pads[2], pads[3], pads[0], pads[1])), wt, bt,
                                   stride, 0, dil, groups)
    gx, gw = torch.autograd.grad(y, (xt, wt), torch.tensor(gy))
    return y.detach().numpy(), gx.numpy(), gw.numpy()


def _host(a):
    return a.get() if isinstance(a, emulated_cupy.DeviceArray) else np.asarray(a)


@pytest.mark.parametrize("backend_name", ["numpy", "emulated"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_conv_device_maps_match_torch(backend_name, case):
    N, C, H, W, O, (kh, kw), stride, pads, dil, groups, bias = case
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((O, C // groups, kh, kw))
    b = rng.standard_normal(O) if bias else None
    Ho = (H + pads[0] + pads[1] - dil[0] * (kh - 1) - 1) // stride[0] + 1
    Wo = (W + pads[2] + pads[3] - dil[1] * (kw - 1) - 1) // stride[1] + 1
    gy = rng.standard_normal((N, O, Ho, Wo))
    y_ref, gx_ref, gw_ref = _torch_reference(x, w, b, stride, pads, dil, groups, gy)
    with Patch() as patch:
        to = np.asarray
        if backend_name == "emulated":
            to = install(patch).asarray
        xd, wd, gd = to(x), to(w), to(gy)
        bd = None if b is None else to(b)
        keep = []
        y = conv_device.conv2d_forward(xd, wd, bd, stride, pads, dil, groups, keep)
        gx = conv_device.conv2d_input_grad(gd, wd, (H, W), stride, pads, dil, groups)
        gw = conv_device.conv2d_weight_grad(xd, gd, wd.shape, stride, pads, dil, groups)
        xpad = conv_device._pad(xd, pads)  # conv.py's CPU road may hand a padded input over
        gw_again = conv_device.conv2d_weight_grad(xd, gd, wd.shape, stride, pads, dil, groups, xpad)
        for name, got in (("y", y), ("gx", gx), ("gw", gw), ("gw_again", gw_again)):
            assert type(got) is type(xd), f"{name} left the array module: {type(got).__name__}"
        assert keep == []  # im2col pads on the fly: no padded input is kept
    np.testing.assert_allclose(_host(y), y_ref, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(_host(gx), gx_ref, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(_host(gw), gw_ref, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(_host(gw_again), gw_ref, rtol=1e-10, atol=1e-10)


def test_input_grad_with_output_padding_rows():
    """conv_transpose2d's output_padding: the input is larger than the output covers; the extra
    rows and columns get zero gradient (as torch's conv_transpose2d gives)."""
    rng = np.random.default_rng(1)
    g = rng.standard_normal((2, 3, 4, 4))
    w = rng.standard_normal((3, 2, 3, 3))  # conv2d weight (O=3, C=2): the transpose maps 3 -> 2 channels
    with Patch() as patch:
        xp = install(patch)
        out = conv_device.conv2d_input_grad(xp.asarray(g), xp.asarray(w), (8, 8), (2, 2), (1, 1, 1, 1),
                                            (1, 1), 1)
    ref = torch.nn.functional.conv_transpose2d(torch.tensor(g), torch.tensor(w), stride=2, padding=1,
                                               output_padding=1)
    np.testing.assert_allclose(out.get(), ref.numpy(), rtol=1e-10, atol=1e-12)


@pytest.fixture
def dispatched():
    with Patch() as patch:
        mod = install(patch)
        conv_dispatch(patch)
        yield mod


@pytest.mark.parametrize("kw", [dict(stride=1, padding=1), dict(stride=2, padding=1, groups=2),
                                dict(stride=1, padding="same", dilation=2), dict(stride=(2, 1), padding=(0, 2))])
def test_dispatched_conv2d_on_device_matches_cpu_to_second_order(dispatched, kw):
    """F.conv2d on device tensors through the dispatch: values, gradients and a second derivative
    (create_graph, so the backward Functions' device forwards are differentiated again) equal the
    CPU's; nothing leaves the device."""
    rng = np.random.default_rng(2)
    x0, w0, b0 = rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((6, 4 // kw.get("groups", 1), 3, 3)), \
        rng.standard_normal(6)
    results = []
    for dev in ("cpu", "cuda"):
        x, w, b = (md.tensor(a).to(dev).requires_grad_() for a in (x0, w0, b0))
        y = F.conv2d(x, w, b, **kw)
        gx, gw = md.autograd.grad((y * y).sum(), (x, w), create_graph=True)
        hx, = md.autograd.grad((gx * gx).sum() + (gw * gw).sum(), (w,))
        if dev == "cuda":
            for t in (y, gx, gw, hx):
                assert isinstance(t.array, emulated_cupy.DeviceArray)
        results.append([t.to("cpu").numpy() for t in (y, gx, gw, hx)])
    for c, d in zip(*results):
        np.testing.assert_allclose(d, c, rtol=1e-9, atol=1e-9)


def test_dispatched_resnet_launches_do_not_grow_with_batch():
    """One ResNet-20 step through the dispatch: the conv launches are a few per layer and the count
    does not depend on the batch size (conv.py's CPU road makes several per tile of images)."""
    small = count_step("resnet20", dispatch=True, batch=2)
    large = count_step("resnet20", dispatch=True, batch=6, trace=True)
    before = count_step("resnet20", dispatch=False, batch=6)
    assert small["launches"] == large["launches"] <= before["launches"]
    conv = sum(n for site, n in large["by_site"].items() if "conv_device.py" in site)
    assert 0 < conv <= 8 * 19  # 19 convs: forward 2, input gradient 3 (col2im 11), weight gradient 2
    copies = sum(n for name, n in large["by_name"].items() if "ascontiguousarray" in name)
    assert copies <= 4 * 19  # per conv at most 3 im2col copies (forward, both gradients) and a kernel flip


def test_launch_counter_rules():
    with Patch() as patch:
        xp = install(patch)
        a = xp.asarray(np.arange(12.0).reshape(3, 4))
        with emulated_cupy.COUNTER.counting() as c:
            v = a.T.reshape(-1)          # a copy (transpose then flatten): 1
            a.reshape(4, 3)[1:]          # views: 0
            xp.lib.stride_tricks.as_strided(a, (2, 2), a.strides)  # a view: 0
            xp.ascontiguousarray(a)      # contiguous already: 0
            xp.empty((5,))               # allocation only: 0
            xp.zeros((5,))               # a memset: 1
            b = a + 1.0                  # ufunc: 1
            xp.add(b, a, out=b)          # ufunc into out: 1
            b[0] = 3.0                   # setitem: 1
            b[:, 1] += 1.0               # add + the setitem CuPy also makes: 2
            a.sum()                      # reduction: 1
            a[xp.asarray(np.array([0, 2]))]   # h2d (1) + gather (1)
            float(a[0, 0])               # a sync, no launch
        assert c.launches == 11 and c.syncs == 1 and c.transfers == 1
        assert c.by_name["setitem"] == 2 and c.by_name["ufunc add.__call__"] == 3
        del v


def test_dispatched_cnn_training_steps_equal_cpu(dispatched):
    """Three SGD steps of a small CNN (convs with padding, batch norm, pooling) through the dispatch
    give the CPU's losses and parameters."""
    import copy

    from mathdl import nn, optim

    md.manual_seed(0)
    cpu = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(), nn.Linear(6, 3)).double()
    dev = copy.deepcopy(cpu).to("cuda")
    rng = np.random.default_rng(0)
    x, y = md.tensor(rng.standard_normal((3, 2, 8, 8))), md.tensor(rng.integers(0, 3, 3))
    runs = []
    for model, xx, yy in ((cpu, x, y), (dev, x.to("cuda"), y.to("cuda"))):
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        losses = []
        for _ in range(3):
            loss = F.cross_entropy(model(xx), yy)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        runs.append((losses, [p.to("cpu").numpy() for p in model.parameters()]))
    np.testing.assert_allclose(runs[1][0], runs[0][0], rtol=1e-10)
    for pc, pd in zip(runs[0][1], runs[1][1]):
        np.testing.assert_allclose(pd, pc, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=(2, 3), stride=(1, 2), dilation=2, ceil_mode=True),
                                dict(kernel_size=3, stride=1, padding=1)])
@pytest.mark.parametrize("channel_major", [False, True])
def test_dispatched_max_pool2d_matches_torch(dispatched, kw, channel_major):
    """max_pool2d through the device dispatch: values, indices (ties: the first maximum; a window
    with NaN: its last NaN) and the gradient equal torch's, with no device-to-host read."""
    rng = np.random.default_rng(6)
    x0 = rng.integers(-3, 4, (2, 3, 7, 8)).astype(np.float64)  # many ties
    x0[0, 0, 1, 1] = x0[0, 0, 1, 2] = x0[1, 2, 4, 4] = np.nan
    xt = torch.tensor(x0, requires_grad=True)
    yt, it = torch.nn.functional.max_pool2d(xt, return_indices=True, **kw)
    gy = rng.standard_normal(yt.shape)
    yt.backward(torch.tensor(gy))
    x = md.tensor(x0).to("cuda")
    if channel_major:  # conv's output layout
        x = md.tensor(x0.transpose(1, 0, 2, 3).copy()).to("cuda").permute(1, 0, 2, 3)
    x.requires_grad_()
    emulated_cupy.COUNTER.reset()
    y = F.max_pool2d(x, **kw)
    assert emulated_cupy.COUNTER.syncs == 0 and emulated_cupy.COUNTER.launches <= 10
    y.backward(md.tensor(gy).to("cuda"))
    _, idx = F.max_pool2d(x.detach(), return_indices=True, **kw)
    np.testing.assert_array_equal(y.to("cpu").numpy(), yt.detach().numpy())
    np.testing.assert_array_equal(idx.to("cpu").numpy(), it.numpy())
    np.testing.assert_allclose(x.grad.to("cpu").numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-15)  # overlaps: sums
