"""Kernel launches per training step on the emulated device (emulated_cupy's LaunchCounter).

On a GPU a small kernel launch costs about 5-10 us of host time, so a step's launch count times
that cost is a floor under its time.  Workloads (those of benchmarks/bench_gpu.py):

* ``mlp``: Linear 784-512-512-10 with ReLU, Adam, batch 128;
* ``resnet20``: mathdl.models' ResNet-20 (CIFAR layout, batch norm), SGD with momentum, batch 32;
* ``transformer``: 2-layer TransformerEncoder (d 128, 4 heads, ff 512, dropout 0.1), a linear head
  per position, Adam, batch 16 x 64.

A step is zero_grad, forward, cross-entropy, backward and the optimizer step; the second step is
counted (the first creates the optimizer's state).  ``dispatch=True`` routes conv.py's three conv
Functions to mathdl/ops/conv_device.py by monkeypatching (the change proposed for conv.py, see
:func:`conv_dispatch`), so the effect can be measured before conv.py is edited.

    OMP_NUM_THREADS=1 python tests/device/launch_count.py [--cases mlp,resnet20,transformer] [--top 12]
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

try:
    from . import emulated_cupy
except ImportError:  # run as a script
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    import emulated_cupy

CASES = ("mlp", "resnet20", "transformer")
BATCH = {"mlp": 128, "resnet20": 32, "transformer": 16}


class Patch:
    """A minimal monkeypatch (setattr / setitem with undo) for use outside pytest."""

    def __init__(self):
        self._undo = []

    def setattr(self, obj, name, value):
        old = obj.__dict__.get(name, _MISSING) if isinstance(obj, type) else getattr(obj, name, _MISSING)
        self._undo.append((obj, name, old, False))
        setattr(obj, name, value)

    def setitem(self, mapping, key, value):
        self._undo.append((mapping, key, mapping.get(key, _MISSING), True))
        mapping[key] = value

    def undo(self):
        for obj, name, old, item in reversed(self._undo):
            if item:
                if old is _MISSING:
                    obj.pop(name, None)
                else:
                    obj[name] = old
            elif old is _MISSING:
                delattr(obj, name)
            else:
                setattr(obj, name, old)
        self._undo.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.undo()


_MISSING = object()


def conv_dispatch(patch):
    """Route conv.py's Conv2dFn / ConvTransposeFn / ConvWeightFn / MaxPool2dFn forwards to
    conv_device for device arrays: exactly the dispatches proposed for mathdl/ops/conv.py (each at
    the top of the forward, behind ``xp_of(...) is not np``)."""
    from mathdl.backend import xp_of
    from mathdl.ops import conv, conv_device, pooling

    fwd, tfwd, wfwd = conv.Conv2dFn.forward, conv.ConvTransposeFn.forward, conv.ConvWeightFn.forward

    def conv_forward(self, x, w, b=None):
        if xp_of(x) is not np:
            keep = []
            y = conv_device.conv2d_forward(x, w, b, self.stride, self.pads, self.dil, self.groups, keep)
            self.saved_xpad = keep[0] if keep else None
            return y
        return fwd(self, x, w, b)

    def transpose_forward(self, g, w):
        if xp_of(g) is not np:
            self.saved_wgrad_x = None
            return conv_device.conv2d_input_grad(g, w, self.hw, self.stride, self.pads, self.dil, self.groups)
        return tfwd(self, g, w)

    def weight_forward(self, x, g):
        if xp_of(x) is not np:
            xpad, self.saved_xpad = self.saved_xpad, None
            self.saved_result = None
            return conv_device.conv2d_weight_grad(x, g, self.wshape, self.stride, self.pads, self.dil, self.groups,
                                                  xpad)
        return wfwd(self, x, g)

    pool_forward = pooling.MaxPool2dFn.forward

    def max_pool_forward(self, x):
        if xp_of(x) is not np:
            g = self.geom
            out, self.saved_idx = conv_device.max_pool2d_forward(x, g.kernel, g.stride, g.pads, g.dil, g.out_hw)
            return out
        return pool_forward(self, x)

    patch.setattr(pooling.MaxPool2dFn, "forward", max_pool_forward)
    patch.setattr(conv.Conv2dFn, "forward", conv_forward)
    patch.setattr(conv.ConvTransposeFn, "forward", transpose_forward)
    patch.setattr(conv.ConvWeightFn, "forward", weight_forward)


def kernels_dispatch(patch):
    """Route device arrays to mathdl/ops/device_kernels.py's fused kernels: Adam's and SGD's
    updates (through the ``elementwise`` helper their modules call), training-mode batch norm
    (BatchNormFn's forward and non-create-graph backward, and the running statistics), layer
    norm (LayerNormFn's forward and non-create-graph backward), dropout (DropoutFn's forward) and
    GELU (GeluFn's forward and non-create-graph backward).  A stand-in
    for the edits proposed for mathdl/optim/adam.py, sgd.py and mathdl/ops/normalization.py."""
    from functools import partial

    from mathdl.autograd.tensor import Tensor
    from mathdl.backend import xp_of
    from mathdl.ops import device_kernels, normalization
    from mathdl.optim import adam, sgd

    def adam_elementwise(kernel, *arrays, passes=1, _orig=adam.elementwise):
        if isinstance(kernel, partial) and kernel.func is adam._adam_chunk and xp_of(arrays[0]) is not np:
            x, g, m, v, _ = arrays
            return device_kernels.adam_step(x, g, m, v, *kernel.args[1])
        return _orig(kernel, *arrays, passes=passes)

    def sgd_elementwise(kernel, *arrays, passes=1, _orig=sgd.elementwise):
        if getattr(kernel, "__name__", "") == "kernel" and xp_of(arrays[0]) is not np and not kernel.__defaults__[0]:
            free = dict(zip(kernel.__code__.co_freevars, (c.cell_contents for c in kernel.__closure__)))
            x, d, b, _ = arrays
            return device_kernels.sgd_momentum_step(x, d, b, free["lr"], free["mu"], free["tau"], free["nesterov"])
        return _orig(kernel, *arrays, passes=passes)

    fn = normalization.BatchNormFn
    bn_forward, bn_backward = fn.forward, fn.backward

    def forward(self, x, *wb):
        if xp_of(x) is np:
            return bn_forward(self, x, *wb)
        y, mu, var = device_kernels.batch_norm_forward(x, wb[0] if self.has_w else None,
                                                       wb[-1] if self.has_b else None, self.eps, self.relu)
        self.mean, self.var = mu, var
        self.saved_xhat, self.saved_rstd = mu, var  # on the device: the batch's mean and variance
        self.saved_y = y if self.relu else None
        return y

    def backward(self, g):
        x = self.inputs[0]
        if xp_of(x.array) is np or normalization._grad_state.enabled:
            return bn_backward(self, g)
        w = self.inputs[1] if self.has_w else None
        b = self.inputs[-1] if self.has_b else None
        gx, gw, gb = device_kernels.batch_norm_backward(
            g.array, x.array, self.saved_y, self.saved_xhat, self.saved_rstd, None if w is None else w.array,
            self.eps, self.relu, need_x=x.requires_grad, need_w=w is not None and w.requires_grad)
        out = [None if gx is None else Tensor._make(gx)]
        if self.has_w:
            out.append(None if gw is None else Tensor._make(gw))
        if self.has_b:
            out.append(Tensor._make(gb) if b.requires_grad else None)
        return tuple(out)

    orig_update = normalization._update_running

    def update_running(running, new, momentum, *factor):  # (factor: once normalization.py passes it)
        if xp_of(running.array) is np:
            return orig_update(running, new, momentum, *factor)
        device_kernels.running_update(running.array, new, momentum, *factor)
        running._version += 1

    lnf = normalization.LayerNormFn
    ln_forward, ln_backward = lnf.forward, lnf.backward

    def layer_forward(self, x, *wb):
        if xp_of(x) is np:
            return ln_forward(self, x, *wb)
        n = int(np.prod(x.shape[x.ndim - self.k:])) if self.k else 1
        y, mu, var = device_kernels.layer_norm_forward(x.reshape(-1, n), wb[0].reshape(-1) if self.has_w else None,
                                                       wb[-1].reshape(-1) if self.has_b else None, self.eps)
        self.saved_xhat, self.saved_rstd = mu, var  # on the device: the rows' mean and variance
        return y.reshape(x.shape)

    def layer_backward(self, g):
        x = self.inputs[0]
        if xp_of(x.array) is np or normalization._grad_state.enabled:
            return ln_backward(self, g)
        w = self.inputs[1] if self.has_w else None
        b = self.inputs[-1] if self.has_b else None
        n = int(np.prod(x.shape[x.ndim - self.k:])) if self.k else 1
        gx, gw, gb = device_kernels.layer_norm_backward(
            g.array.reshape(-1, n), x.array.reshape(-1, n), self.saved_xhat, self.saved_rstd,
            None if w is None else w.array.reshape(-1), self.eps, need_x=x.requires_grad,
            need_w=w is not None and w.requires_grad, need_b=b is not None and b.requires_grad)
        out = [None if gx is None else Tensor._make(gx.reshape(x.shape))]
        if self.has_w:
            out.append(None if gw is None else Tensor._make(gw.reshape(w.shape)))
        if self.has_b:
            out.append(None if gb is None else Tensor._make(gb.reshape(b.shape)))
        return tuple(out)

    import importlib

    from mathdl import backend

    dropout_module = importlib.import_module("mathdl.nn.functional.dropout")  # the module, not F.dropout

    dropout_forward = dropout_module.DropoutFn.forward

    def dropout_fused(self, x):
        xp = xp_of(x)
        if xp is np:
            return dropout_forward(self, x)
        u = backend.rng.for_module(xp).random(x.shape, dtype=np.float32)
        y, self.saved_mask = device_kernels.dropout_apply(x, u, self.p)
        return y

    act = importlib.import_module("mathdl.ops.activations")
    gelu_fwd, gelu_bwd = act.GeluFn._forward, act.GeluFn.backward

    def gelu_forward(self, x):
        if xp_of(x) is np:
            return gelu_fwd(self, x)
        y, self.saved_aux = device_kernels.gelu_forward(x, self.approximate)
        return y

    def gelu_backward(self, g):
        (x,) = self.inputs
        if xp_of(x.array) is np or normalization._grad_state.enabled:
            return gelu_bwd(self, g)
        xa, gd = act._at_least_1d(x.array), act._at_least_1d(g.array)
        if gd.shape != xa.shape:
            gd = xp_of(xa).broadcast_to(gd, xa.shape)
        d = device_kernels.gelu_backward(xa, self.saved_aux, gd, self.approximate)
        return (Tensor._make(d.reshape(g.shape)),)

    patch.setattr(act.GeluFn, "_forward", gelu_forward)
    patch.setattr(act.GeluFn, "backward", gelu_backward)
    patch.setattr(dropout_module.DropoutFn, "forward", dropout_fused)
    patch.setattr(lnf, "forward", layer_forward)
    patch.setattr(lnf, "backward", layer_backward)
    patch.setattr(adam, "elementwise", adam_elementwise)
    patch.setattr(sgd, "elementwise", sgd_elementwise)
    patch.setattr(fn, "forward", forward)
    patch.setattr(fn, "backward", backward)
    patch.setattr(normalization, "_update_running", update_running)


def install(patch):
    """The emulated CuPy as mathdl's "cuda" module (emulated_cupy.install with a :class:`Patch`)."""
    from mathdl import backend

    return emulated_cupy.install(patch, backend)


# --------------------------------------------------------------------------- workloads
def build(case):
    """(model, optimizer factory, input maker(batch, rng) -> (x, y)) for a workload."""
    import mathdl as md
    from mathdl import nn, optim

    md.manual_seed(0)
    if case == "mlp":
        model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
        make = lambda n, rng: (rng.standard_normal((n, 784)), rng.integers(0, 10, n))  # noqa: E731
        return model, lambda p: optim.Adam(p, lr=1e-3), make
    if case == "resnet20":
        from mathdl.data.registry import DatasetSpec
        from mathdl.models import build_model

        model = build_model("resnet20", DatasetSpec(None, None, (3, 32, 32), 10))
        make = lambda n, rng: (rng.standard_normal((n, 3, 32, 32)), rng.integers(0, 10, n))  # noqa: E731
        return model, lambda p: optim.SGD(p, lr=0.01, momentum=0.9), make
    if case == "transformer":
        class Encoder(nn.Module):
            def __init__(self):
                super().__init__()
                layer = nn.TransformerEncoderLayer(128, 4, 512, dropout=0.1, batch_first=True)
                self.encoder = nn.TransformerEncoder(layer, 2)
                self.head = nn.Linear(128, 10)

            def forward(self, x):
                return self.head(self.encoder(x))

        make = lambda n, rng: (rng.standard_normal((n, 64, 128)), rng.integers(0, 10, (n, 64)))  # noqa: E731
        return Encoder(), lambda p: optim.Adam(p, lr=1e-3), make
    raise ValueError(f"unknown workload {case!r}; expected one of {CASES}")


def count_step(case, *, dispatch=False, kernels=False, batch=None, amp=None, counted_steps=1, trace=False):
    """Launch counts of one training step on the emulated device: a dict with ``launches``,
    ``syncs``, ``transfers`` and ``by_name`` (a Counter), averaged over ``counted_steps`` steps that
    follow one uncounted step.  ``dispatch``: conv.py routed to conv_device; ``kernels``: the fused
    kernels of device_kernels (see :func:`kernels_dispatch`).  ``amp``: None, or "float16" /
    "bfloat16" for an autocast forward."""
    import contextlib

    import mathdl as md
    import mathdl.nn.functional as F

    with Patch() as patch:
        install(patch)
        if dispatch:
            conv_dispatch(patch)
        if kernels:
            kernels_dispatch(patch)
        model, make_opt, make = build(case)
        model.to("cuda")
        opt = make_opt(model.parameters())
        x, y = make(batch or BATCH[case], np.random.default_rng(0))
        xt = md.tensor(x.astype(np.float32)).to("cuda")
        yt = md.tensor(y).to("cuda")

        def step():
            ctx = md.amp.autocast(dtype=amp) if amp else contextlib.nullcontext()
            opt.zero_grad()
            with ctx:
                out = model(xt)
                loss = F.cross_entropy(out.reshape(-1, 10), yt.reshape(-1))
            loss.backward()
            opt.step()

        step()
        emulated_cupy.COUNTER.trace = trace
        try:
            with emulated_cupy.COUNTER.counting() as c:
                for _ in range(counted_steps):
                    step()
        finally:
            emulated_cupy.COUNTER.trace = False
        res = {k: v / counted_steps for k, v in c.snapshot().items()}
        res["by_name"] = c.by_name.copy()
        res["by_site"] = c.by_site.copy()
        return res


def report(cases=CASES, top=10, out=print, sites=False):
    """Print launches per step, before and after the conv dispatch, and the commonest calls (or
    call sites, ``sites=True``)."""
    rows = {}
    out(f"{'workload':<14} {'launches: now':>14} {'+conv_device':>13} {'+fused kernels':>15}   "
        "syncs (now -> both)")
    for case in cases:
        before = count_step(case)
        conv = count_step(case, dispatch=True)
        after = count_step(case, dispatch=True, kernels=True, trace=sites)
        rows[case] = (before, after)
        out(f"{case:<14} {before['launches']:14.0f} {conv['launches']:13.0f} {after['launches']:15.0f}   "
            f"{before['syncs']:.0f} -> {after['syncs']:.0f}")
    if top:
        for case, (_, after) in rows.items():
            out(f"\n{case}: the {top} commonest launching {'call sites' if sites else 'calls'} (with both)")
            for name, n in after["by_site" if sites else "by_name"].most_common(top):
                out(f"  {n:6.0f}  {name}")
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--sites", action="store_true", help="count by call site (file:line) instead of by call")
    args = ap.parse_args(argv)
    report(args.cases.split(","), args.top, sites=args.sites)
    return 0


if __name__ == "__main__":
    sys.exit(main())
