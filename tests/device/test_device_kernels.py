"""mathdl/ops/device_kernels.py: each fused kernel's formula (its xp fallback, what the emulated
device and NumPy run) against the code it replaces or against PyTorch, one launch each on the
emulated device, and training steps through the proposed wiring (launch_count.kernels_dispatch)
equal to the CPU's."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import mathdl as md
import mathdl.nn.functional as F
from mathdl import nn, optim
from mathdl.ops import device_kernels as dk
from mathdl.optim.adam import _adam_kernel

from . import emulated_cupy
from .launch_count import Patch, conv_dispatch, install, kernels_dispatch

torch = pytest.importorskip("torch")


@pytest.fixture(params=["numpy", "emulated"])
def xp(request):
    if request.param == "numpy":
        yield np
        return
    with Patch() as patch:
        yield install(patch)


def _host(a):
    return a.get() if isinstance(a, emulated_cupy.DeviceArray) else np.asarray(a)


def _one_launch(xp, name):
    """A context that checks the block makes exactly one launch, the fused kernel ``name``."""
    class Check:
        def __enter__(self):
            emulated_cupy.COUNTER.reset()

        def __exit__(self, *exc):
            if xp is not np and exc[0] is None:
                c = emulated_cupy.COUNTER
                assert c.launches == 1 and c.by_name[f"fused {name}"] == 1, dict(c.by_name)
    return Check()


def test_adam_step_equals_the_optimizer_kernel(xp):
    rng = np.random.default_rng(0)
    x, g, m, v = (rng.standard_normal((5, 7)).astype(np.float32) for _ in range(4))
    v = np.abs(v)
    ref = [a.copy() for a in (x, m, v)]
    _adam_kernel(np, ref[0], g, ref[1], ref[2], None, np.empty_like(x), 0.9, 0.999, 1e-3, 1e-8)
    dx, dg, dm, dv = (xp.asarray(a) for a in (x, g, m, v))
    with _one_launch(xp, "adam_step"):
        dk.adam_step(dx, dg, dm, dv, 0.9, 0.999, 1e-3, 1e-8)
    for got, want in zip((dx, dm, dv), ref):
        np.testing.assert_array_equal(_host(got), want)


@pytest.mark.parametrize("tau,nesterov", [(0.0, False), (0.25, False), (0.0, True)])
def test_sgd_momentum_step_equals_torch(xp, tau, nesterov):
    """Two SGD steps (the second through the fused kernel) give torch.optim.SGD's parameters."""
    rng = np.random.default_rng(1)
    p0, g1, g2 = (rng.standard_normal(6) for _ in range(3))
    tp = torch.tensor(p0, requires_grad=True)
    opt = torch.optim.SGD([tp], lr=0.1, momentum=0.9, dampening=tau, nesterov=nesterov)
    for g in (g1, g2):
        tp.grad = torch.tensor(g)
        opt.step()
    # mathdl's first step: buf = d, x -= lr (d + mu d) (nesterov) or lr d; then the fused one
    x = p0 - 0.1 * (g1 + 0.9 * g1 if nesterov else g1)
    dx, dbuf, dg = xp.asarray(x), xp.asarray(g1.copy()), xp.asarray(g2)
    with _one_launch(xp, "sgd_momentum"):
        dk.sgd_momentum_step(dx, dg, dbuf, 0.1, 0.9, tau, nesterov)
    np.testing.assert_allclose(_host(dx), tp.detach().numpy(), rtol=1e-14)
    np.testing.assert_allclose(_host(dbuf), opt.state[tp]["momentum_buffer"].numpy(), rtol=1e-14)


BN_CASES = [((4, 3, 5, 6), True, True, False), ((4, 3, 5, 6), True, True, True), ((6, 4), False, False, False),
            ((3, 2, 7), True, False, True), ((2, 3, 4, 4), False, True, False)]


@pytest.mark.parametrize("shape,has_w,has_b,relu,channel_major",
                         [c + (False,) for c in BN_CASES] + [c + (True,) for c in BN_CASES if len(c[0]) == 4])
def test_batch_norm_kernels_match_torch(xp, shape, has_w, has_b, relu, channel_major):
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape) * 3 + 1
    C = shape[1]
    w = rng.standard_normal(C) if has_w else None
    b = rng.standard_normal(C) if has_b else None
    gy = rng.standard_normal(shape)
    xt = torch.tensor(x, requires_grad=True)
    wt = None if w is None else torch.tensor(w, requires_grad=True)
    bt = None if b is None else torch.tensor(b, requires_grad=True)
    rm, rv = torch.zeros(C, dtype=torch.float64), torch.ones(C, dtype=torch.float64)
    yt = torch.nn.functional.batch_norm(xt, rm, rv, wt, bt, training=True, momentum=0.1, eps=1e-5)
    if relu:
        yt = torch.relu(yt)
    yt.backward(torch.tensor(gy))

    def dev(a):
        if a is None:
            return None
        d = xp.asarray(a)
        if channel_major and a.ndim == 4:  # conv's output layout: a (C, N, H, W) block
            d = xp.ascontiguousarray(d.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
        return d

    xd, gd, wd, bd = dev(x), dev(gy), dev(w), dev(b)
    rmd, rvd = xp.asarray(np.zeros(C)), xp.asarray(np.ones(C))
    n = x.size // C
    emulated_cupy.COUNTER.reset()
    y, mu, var = dk.batch_norm_forward(xd, wd, bd, 1e-5, relu)
    gx, gw, gb = dk.batch_norm_backward(gd, xd, y, mu, var, wd, 1e-5, relu, need_x=True, need_w=True)
    dk.running_update(rmd, mu, 0.1)
    dk.running_update(rvd, var, 0.1, n / (n - 1))
    if xp is not np:
        assert emulated_cupy.COUNTER.syncs == 0
        assert emulated_cupy.COUNTER.launches == 3 + 3 + has_w + 2  # forward, backward (+ dw), running stats
        assert y.strides == xd.strides and gx.strides == gd.strides  # the layout is kept
    np.testing.assert_allclose(_host(y), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_host(gx), xt.grad.numpy(), rtol=1e-9, atol=1e-11)
    if has_w:
        np.testing.assert_allclose(_host(gw), wt.grad.numpy(), rtol=1e-10, atol=1e-12)
    else:
        assert gw is None
    if has_b:
        np.testing.assert_allclose(_host(gb), bt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_host(rmd), rm.numpy(), rtol=1e-12)
    np.testing.assert_allclose(_host(rvd), rv.numpy(), rtol=1e-12)


def test_batch_norm_kernels_follow_torch_with_infinite_weight(xp):
    """PyTorch's order y = x scale + shift: an infinite weight gives +-inf (and NaN where x equals
    the mean), the same as torch, with no host-side fix-up pass."""
    x = np.array([[1.0, 2.0], [3.0, 2.0], [5.0, 2.0]])
    w = np.array([np.inf, 1.0])
    b = np.array([0.0, np.inf])
    ref = torch.nn.functional.batch_norm(torch.tensor(x), None, None, torch.tensor(w), torch.tensor(b), training=True)
    with np.errstate(invalid="ignore"):
        y, _, _ = dk.batch_norm_forward(xp.asarray(x), xp.asarray(w), xp.asarray(b), 1e-5)
    np.testing.assert_array_equal(_host(y), ref.numpy())


@pytest.mark.parametrize("shape,k,has_w,has_b", [((3, 5, 8), 1, True, True), ((4, 6), 1, False, False),
                                                 ((2, 3, 4, 5), 2, True, False), ((5, 7), 1, False, True)])
def test_layer_norm_kernels_match_torch(xp, shape, k, has_w, has_b):
    rng = np.random.default_rng(4)
    x = rng.standard_normal(shape) * 2 - 1
    ns = shape[len(shape) - k:]
    w = rng.standard_normal(ns) if has_w else None
    b = rng.standard_normal(ns) if has_b else None
    gy = rng.standard_normal(shape)
    xt = torch.tensor(x, requires_grad=True)
    wt = None if w is None else torch.tensor(w, requires_grad=True)
    bt = None if b is None else torch.tensor(b, requires_grad=True)
    torch.nn.functional.layer_norm(xt, ns, wt, bt, eps=1e-5).backward(torch.tensor(gy))
    n = int(np.prod(ns))
    x2, g2 = xp.asarray(x.reshape(-1, n)), xp.asarray(gy.reshape(-1, n))
    wd = None if w is None else xp.asarray(w.reshape(-1))
    bd = None if b is None else xp.asarray(b.reshape(-1))
    emulated_cupy.COUNTER.reset()
    y, mu, var = dk.layer_norm_forward(x2, wd, bd, 1e-5)
    gx, gw, gb = dk.layer_norm_backward(g2, x2, mu, var, wd, 1e-5, need_w=has_w, need_b=has_b)
    if xp is not np:
        assert emulated_cupy.COUNTER.syncs == 0 and emulated_cupy.COUNTER.launches == 3 + 3 + has_w + has_b
    ref = torch.nn.functional.layer_norm(torch.tensor(x), ns, None if w is None else torch.tensor(w),
                                         None if b is None else torch.tensor(b), eps=1e-5)
    np.testing.assert_allclose(_host(y).reshape(shape), ref.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_host(gx).reshape(shape), xt.grad.numpy(), rtol=1e-9, atol=1e-11)
    if has_w:
        np.testing.assert_allclose(_host(gw).reshape(ns), wt.grad.numpy(), rtol=1e-10, atol=1e-12)
    else:
        assert gw is None
    if has_b:
        np.testing.assert_allclose(_host(gb).reshape(ns), bt.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_dropout_apply_equals_dropout_fn(xp, p):
    """Given the same uniform draws, one fused launch makes DropoutFn's mask and output exactly."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((7, 9)).astype(np.float32)
    u = rng.random((7, 9), dtype=np.float32)
    u[0, :3] = np.float32(p)  # the boundary: u == p keeps (u >= p)
    keep = (u >= p).astype(np.float32)
    keep *= 1.0 / (1.0 - p)
    emulated_cupy.COUNTER.reset()
    xd, ud = xp.asarray(x), xp.asarray(u)
    with _one_launch(xp, "dropout_apply"):
        y, mask = dk.dropout_apply(xd, ud, p)
    np.testing.assert_array_equal(_host(mask), keep)
    np.testing.assert_array_equal(_host(y), x * keep)


def test_fused_dropout_training_equals_unfused_on_device():
    """The transformer workload's step with dropout 0.1 through the fused kernels gives the same
    loss as without them on the emulated device (same draws from the device generator)."""
    from .launch_count import build

    losses = []
    for fused in (False, True):
        with Patch() as patch:
            install(patch)
            if fused:
                kernels_dispatch(patch)
            model, make_opt, make = build("transformer")
            model.to("cuda")
            x, y = make(2, np.random.default_rng(0))
            md.manual_seed(1)
            emulated_cupy.COUNTER.reset()
            out = model(md.tensor(x.astype(np.float32)).to("cuda"))
            assert emulated_cupy.COUNTER.by_name["fused dropout_apply"] > 0 or not fused
            loss = F.cross_entropy(out.reshape(-1, 10), md.tensor(y).to("cuda").reshape(-1))
            loss.backward()
            losses.append((loss.item(), model.head.weight.grad.to("cpu").numpy()))
    assert losses[0][0] == pytest.approx(losses[1][0], rel=1e-6)
    np.testing.assert_allclose(losses[1][1], losses[0][1], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_kernels_match_torch(xp, approximate):
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.standard_normal(40) * 3, [0.0, -10.0, 10.0, 1e-8]])
    g = rng.standard_normal(x.shape)
    xt = torch.tensor(x, requires_grad=True)
    torch.nn.functional.gelu(xt, approximate=approximate).backward(torch.tensor(g))
    xd, gd = xp.asarray(x), xp.asarray(g)
    with _one_launch(xp, "gelu_forward"):
        y, aux = dk.gelu_forward(xd, approximate)
    with _one_launch(xp, "gelu_backward"):
        d = dk.gelu_backward(xd, aux, gd, approximate)
    ref = torch.nn.functional.gelu(torch.tensor(x), approximate=approximate).numpy()
    np.testing.assert_allclose(_host(y), ref, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(_host(d), xt.grad.numpy(), rtol=1e-12, atol=1e-12)  # tails: cancellation


def test_fused_gelu_on_device_equals_cpu():
    """F.gelu through the wired kernels on the emulated device: values and gradients as the CPU."""
    x0 = np.random.default_rng(8).standard_normal((3, 5))
    for approximate in ("none", "tanh"):
        xc = md.tensor(x0, requires_grad=True)
        F.gelu(xc, approximate=approximate).sum().backward()
        with Patch() as patch:
            install(patch)
            kernels_dispatch(patch)
            xd = md.tensor(x0).to("cuda").requires_grad_()
            emulated_cupy.COUNTER.reset()
            F.gelu(xd, approximate=approximate).sum().backward()
            assert emulated_cupy.COUNTER.by_name["fused gelu_backward"] == 1
            np.testing.assert_allclose(xd.grad.to("cpu").numpy(), xc.grad.numpy(), rtol=1e-14)


def _train(model, x, y, make_opt, steps=3):
    opt = make_opt(model.parameters())
    losses = []
    for _ in range(steps):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, [p.to("cpu").numpy() for p in model.parameters()], [b.to("cpu").numpy() for b in model.buffers()]


class _Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
        self.norm = nn.LayerNorm(8, bias=False)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        return self.head(self.norm(self.layer(x)).mean(1))


@pytest.mark.parametrize("kind", ["cnn-sgd", "cnn-nesterov", "mlp-adam", "mlp-adamw", "transformer-adam"])
def test_training_with_fused_kernels_equals_cpu(kind):
    """Three steps with conv_device and the fused kernels wired in (monkeypatched) on the emulated
    device give the unpatched CPU run's losses, parameters and running statistics."""
    md.manual_seed(0)
    rng = np.random.default_rng(3)
    if kind.startswith("cnn"):
        cpu = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                            nn.Conv2d(4, 4, 3, stride=2, padding=1), nn.BatchNorm2d(4, affine=False), nn.ReLU(),
                            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3)).double()
        x = md.tensor(rng.standard_normal((3, 2, 6, 6)))
        nesterov = kind == "cnn-nesterov"
        make_opt = lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=nesterov, weight_decay=1e-3)  # noqa: E731
    elif kind.startswith("transformer"):
        cpu = _Encoder().double()
        x = md.tensor(rng.standard_normal((3, 4, 8)))
        make_opt = lambda p: optim.Adam(p, lr=1e-2)  # noqa: E731
    else:
        cpu = nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3)).double()
        x = md.tensor(rng.standard_normal((6, 5)))
        make_opt = (lambda p: optim.Adam(p, lr=1e-2)) if kind == "mlp-adam" else (lambda p: optim.AdamW(p, lr=1e-2))
    y = md.tensor(rng.integers(0, 3, x.shape[0]))
    dev = copy.deepcopy(cpu)
    ref = _train(cpu, x, y, make_opt)
    with Patch() as patch:
        install(patch)
        conv_dispatch(patch)
        kernels_dispatch(patch)
        dev.to("cuda")
        emulated_cupy.COUNTER.reset()
        got = _train(dev, x.to("cuda"), y.to("cuda"), make_opt)
        fused = emulated_cupy.COUNTER.by_name
        assert fused["fused adam_step" if "adam" in kind else "fused sgd_momentum"] > 0
        assert fused["fused ln_dx" if kind.startswith("transformer") else "fused bn_dx"] > 0
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-10)
    for a, b in zip(got[1] + got[2], ref[1] + ref[2]):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)
