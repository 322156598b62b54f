"""K-FAC: Kronecker-factored approximate curvature (Martens & Grosse 2015; Grosse & Martens 2016
for convolutions).

For a layer s = W a (bias folded in: a gets a trailing 1, W = [W b]) the Fisher block of W is
approximated by a Kronecker product of two small matrices,

    F_W = E[vec(g a^T) vec(g a^T)^T] ~ G (x) A,     A = E[a a^T],   G = E[g g^T],

where a is the layer's input and g = dl/ds the gradient of one example's loss with respect to the
layer's output.  For Conv2d (KFC), a runs over the im2col patches and g over the output positions
t = 1..T: A = E_i[(1/T) sum_t a_t a_t^T], G = E_i[sum_t g_t g_t^T].  With factored Tikhonov damping
(pi = sqrt((tr A / dim A) / (tr G / dim G)), lambda the damping)

    Delta_W = (G + sqrt(lambda)/pi I)^{-1} grad_W (A + pi sqrt(lambda) I)^{-1},

(G (x) A)^{-1} vec(V) = vec(G^{-1} V A^{-1}).  With ``solve="eigen"`` the factors' eigendecompositions
A = Q_A diag(a) Q_A^T, G = Q_G diag(g) Q_G^T give the exactly damped Kronecker solve instead,

    (G (x) A + lambda I)^{-1} vec(V) = vec(Q_G [(Q_G^T V Q_A) / (g a^T + lambda)] Q_A^T).

The factors are running averages
(``factor_decay``) refreshed every ``factor_update_freq`` steps, their damped inverses every
``inv_update_freq`` steps.  KL clipping rescales all updates by
nu = min(1, sqrt(kl_clip / (lr^2 sum_l <Delta_l, grad_l>))).  The rescaled directions then take an
SGD-with-momentum step.  ``fisher="empirical"`` uses the gradients of the training loss (the data's
labels); ``fisher="true"`` draws labels from the model's predictive distribution (``likelihood``:
categorical, gaussian or bernoulli) in an extra backward pass to the layer outputs during the
forward pass.  Parameters of other layers take the plain SGD-with-momentum step (listed in
``unsupported``).

Usage: ``opt = KFAC(model, lr=...)``; then ``loss.backward(); opt.step()`` as for SGD (the module
hooks see the forward and backward passes of the training loss; the loss is taken as a mean over
the batch, ``loss_reduction="sum"`` otherwise).
"""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np

from .. import backend
from ..autograd.functional import grad as _grad
from ..autograd.grad_mode import is_grad_enabled, no_grad
from .optimizer import Optimizer

__all__ = ["KFAC", "conv_patches"]


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def conv_patches(x, kernel_size, stride, padding, dilation):
    """im2col: the (B * Ho * Wo, C * kh * kw) patches of a Conv2d input (rows ordered (b, ho, wo),
    columns (c, i, j), matching weight.reshape(out, -1))."""
    xp = backend.xp_of(x)
    B, C, H, W = x.shape
    kh, kw = kernel_size
    sh, sw = stride
    dh, dw = dilation
    if isinstance(padding, str):
        if padding == "valid":
            pads = (0, 0, 0, 0)
        else:  # "same" (stride 1): PyTorch puts the extra pixel at the end
            th, tw = dh * (kh - 1), dw * (kw - 1)
            pads = (th // 2, th - th // 2, tw // 2, tw - tw // 2)
    else:
        ph, pw = _pair(padding)
        pads = (ph, ph, pw, pw)
    xpad = xp.pad(x, ((0, 0), (0, 0), (pads[0], pads[1]), (pads[2], pads[3])))
    Hp, Wp = xpad.shape[2:]
    Ho = (Hp - dh * (kh - 1) - 1) // sh + 1
    Wo = (Wp - dw * (kw - 1) - 1) // sw + 1
    cols = xp.empty((B, Ho, Wo, C, kh, kw), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            win = xpad[:, :, i * dh:i * dh + sh * (Ho - 1) + 1:sh, j * dw:j * dw + sw * (Wo - 1) + 1:sw]
            cols[..., i, j] = win.transpose(0, 2, 3, 1)
    return cols.reshape(B * Ho * Wo, C * kh * kw), Ho * Wo


class _Layer:
    """Hook state of one supported layer."""

    def __init__(self, name, module, kind):
        self.name, self.module, self.kind = name, module, kind
        self.a = None          # the last forward's input statistic (A of the batch)
        self.g = None          # the last backward's output-gradient statistic (G of the batch)
        self.out = None        # the last forward's output tensor (for the true Fisher)
        self.batch = 0
        self.A = self.G = None
        self.A_inv = self.G_inv = None   # solve="inverse": the damped inverses
        self.QA = self.QG = self.dA = self.dG = None   # solve="eigen": eigenvectors and eigenvalues

    @property
    def params(self):
        m = self.module
        return [m.weight] + ([m.bias] if m.bias is not None else [])

    def input_factor(self, x):
        xp = backend.xp_of(x)
        if self.kind == "linear":
            a = x.reshape(-1, x.shape[-1])
            T = 1
        else:
            m = self.module
            a, T = conv_patches(x, m.kernel_size, m.stride, m.padding, m.dilation)
        if self.module.bias is not None:
            a = xp.concatenate([a, xp.ones((a.shape[0], 1), dtype=a.dtype)], axis=1)
        return (a.T @ a) / a.shape[0], T

    def output_factor(self, g, batch, scale):
        """G from per-example output gradients (``g`` times ``scale``), T positions each."""
        if self.kind == "linear":
            gf = g.reshape(-1, g.shape[-1])
        else:  # (B, C, Ho, Wo) -> (B*T, C)
            gf = g.transpose(0, 2, 3, 1).reshape(-1, g.shape[1])
        gf = gf * scale
        return (gf.T @ gf) / batch


class KFAC(Optimizer):
    """``KFAC(model, lr=0.01, momentum=0.9, damping=1e-3, weight_decay=0, factor_decay=0.95,
    factor_update_freq=1, inv_update_freq=10, kl_clip=1e-3, fisher="empirical", likelihood="categorical",
    loss_reduction="mean", solve="inverse")``."""

    def __init__(self, model, lr=0.01, momentum=0.9, damping=1e-3, weight_decay=0.0, factor_decay=0.95,
                 factor_update_freq=1, inv_update_freq=10, kl_clip=1e-3, fisher="empirical",
                 likelihood="categorical", loss_reduction="mean", solve="inverse"):
        from ..nn import Conv2d, Linear, Module

        if not isinstance(model, Module):
            raise TypeError(f"KFAC: the first argument must be the model (a Module), got {type(model).__name__}")
        if fisher not in ("empirical", "true"):
            raise ValueError(f"KFAC: fisher must be 'empirical' or 'true', got {fisher!r}")
        if likelihood not in ("categorical", "gaussian", "bernoulli"):
            raise ValueError(f"KFAC: likelihood must be categorical, gaussian or bernoulli, got {likelihood!r}")
        if solve not in ("inverse", "eigen"):
            raise ValueError(f"KFAC: solve must be 'inverse' or 'eigen', got {solve!r}")
        if loss_reduction not in ("mean", "sum"):
            raise ValueError(f"KFAC: loss_reduction must be 'mean' or 'sum', got {loss_reduction!r}")
        if damping <= 0 or not (0 <= factor_decay < 1):
            raise ValueError(f"KFAC: need damping > 0 and 0 <= factor_decay < 1, got {damping}, {factor_decay}")
        self.model = model
        self.layers = []
        self.unsupported = []
        for name, m in model.named_modules():
            if isinstance(m, Linear):
                self.layers.append(_Layer(name, m, "linear"))
            elif isinstance(m, Conv2d) and m.groups == 1:
                self.layers.append(_Layer(name, m, "conv2d"))
            elif any(True for _ in m.parameters(recurse=False)):
                self.unsupported.append(f"{name or 'model'} ({type(m).__name__})")
        if not self.layers:
            raise ValueError(f"KFAC: the model has no supported layer (Linear or Conv2d with groups=1); "
                             f"found {', '.join(self.unsupported) or 'no layers with parameters'}")
        if self.unsupported:
            warnings.warn("KFAC: these layers have no Kronecker factors and take plain SGD steps: "
                          + ", ".join(self.unsupported), stacklevel=2)
        defaults = dict(lr=lr, momentum=momentum, damping=damping, weight_decay=weight_decay)
        super().__init__([p for p in model.parameters() if p.requires_grad], defaults)
        self.factor_decay, self.factor_update_freq = factor_decay, int(factor_update_freq)
        self.inv_update_freq, self.kl_clip = int(inv_update_freq), kl_clip
        self.fisher, self.likelihood, self.loss_reduction = fisher, likelihood, loss_reduction
        self.solve = solve
        self.steps = 0
        self._rng = np.random.default_rng(0)
        self._handles = []
        for layer in self.layers:
            self._handles.append(layer.module.register_forward_hook(self._make_forward_hook(layer)))
        if fisher == "true":
            self._handles.append(model.register_forward_hook(self._sample_hook))

    # ------------------------------------------------------------------ hooks
    def _capturing(self, module):
        return module.training and is_grad_enabled() and self.steps % self.factor_update_freq == 0

    def _make_forward_hook(self, layer):
        def hook(module, inputs, output):
            if not self._capturing(module):
                return None
            x = inputs[0].array
            layer.a, layer.T = layer.input_factor(x)
            layer.batch = x.shape[0] if layer.kind == "conv2d" else int(np.prod(x.shape[:-1]))
            layer.out = output if self.fisher == "true" else None
            if self.fisher == "empirical" and output.requires_grad:
                scale = layer.batch if self.loss_reduction == "mean" else 1.0

                def grad_hook(g, layer=layer, scale=scale):
                    layer.g = layer.output_factor(g.array, layer.batch, scale)
                output.register_hook(grad_hook)
            return None
        return hook

    def _sample_hook(self, module, inputs, f):
        """True Fisher: labels drawn from the model; one backward pass of their loss to the layer outputs."""
        if not self._capturing(module):
            return None
        live = [layer for layer in self.layers if layer.out is not None and layer.out.requires_grad]
        if not live:
            return None
        fd = backend.to_device(f.array, "cpu").astype(np.float64)
        if self.likelihood == "categorical":
            p = np.exp(fd - fd.max(-1, keepdims=True))
            p /= p.sum(-1, keepdims=True)
            labels = (self._rng.random(p.shape[:-1] + (1,)) > np.cumsum(p, -1)).sum(-1)
            score = p - np.eye(p.shape[-1])[np.minimum(labels, p.shape[-1] - 1)]
        elif self.likelihood == "gaussian":
            score = -np.sqrt(2.0) * self._rng.standard_normal(fd.shape)
        else:
            s = 1 / (1 + np.exp(-fd))
            score = s - (self._rng.random(fd.shape) < s)
        from ..autograd.tensor import Tensor

        xp = backend.xp_of(f.array)
        cot = Tensor._make(xp.asarray(score.astype(f.array.dtype)))
        gs = _grad([f], [layer.out for layer in live], [cot], retain_graph=True, allow_unused=True)
        for layer, g in zip(live, gs):
            if g is not None:
                layer.g = layer.output_factor(g.array, layer.batch, 1.0)
            layer.out = None
        return None

    def remove_hooks(self):
        for h in self._handles:
            h.remove()
        self._handles = []

    # ------------------------------------------------------------------ factors
    def _update_factors(self):
        eps = self.factor_decay
        for layer in self.layers:
            if layer.a is None or layer.g is None:
                continue
            if layer.A is None:
                layer.A, layer.G = layer.a.copy(), layer.g.copy()
            else:
                layer.A *= eps
                layer.A += (1 - eps) * layer.a
                layer.G *= eps
                layer.G += (1 - eps) * layer.g
            layer.a = layer.g = None

    def _update_inverses(self, damping):
        for layer in self.layers:
            if layer.A is None:
                continue
            if self.solve == "inverse":
                layer.A_inv, layer.G_inv = damped_inverses(layer.A, layer.G, damping)
            else:
                xp = backend.xp_of(layer.A)
                layer.dA, layer.QA = xp.linalg.eigh(layer.A)
                layer.dG, layer.QG = xp.linalg.eigh(layer.G)
                layer.dA, layer.dG = xp.maximum(layer.dA, 0), xp.maximum(layer.dG, 0)
                layer.A_inv = layer.G_inv = True  # marks "ready"

    def _precondition(self, layer, V, damping):
        if self.solve == "inverse":
            return layer.G_inv @ V @ layer.A_inv
        W = layer.QG.T @ V @ layer.QA
        W /= layer.dG[:, None] * layer.dA[None, :] + damping
        return layer.QG @ W @ layer.QA.T

    # ------------------------------------------------------------------ step
    def _grad_matrix(self, layer, wd):
        m = layer.module
        gw = m.weight.grad.array.reshape(m.weight.shape[0], -1)
        if wd:
            gw = gw + wd * m.weight.array.reshape(gw.shape)
        if m.bias is not None:
            gb = m.bias.grad.array if m.bias.grad is not None else m.bias.array * 0
            if wd:
                gb = gb + wd * m.bias.array
            gw = backend.xp_of(gw).concatenate([gw, gb[:, None]], axis=1)
        return gw

    @no_grad()
    def step(self, closure=None):
        """Update the factors (and, every ``inv_update_freq`` steps, their inverses), precondition the
        gradients of the supported layers, clip by KL, and take an SGD-with-momentum step."""
        loss = None
        if closure is not None:
            from ..autograd.grad_mode import enable_grad

            with enable_grad():
                loss = closure()
        group = self.param_groups[0]
        lr, mu, damping, wd = group["lr"], group["momentum"], group["damping"], group["weight_decay"]
        if self.steps % self.factor_update_freq == 0:
            self._update_factors()
        if self.steps % self.inv_update_freq == 0 or any(la.A_inv is None and la.A is not None
                                                           for la in self.layers):
            self._update_inverses(damping)
        updates = {}
        vg = 0.0
        for layer in self.layers:
            m = layer.module
            if m.weight.grad is None or layer.A_inv is None:
                continue
            V = self._grad_matrix(layer, wd)
            D = self._precondition(layer, V, damping)
            vg += float((D * V).sum())
            updates[id(layer)] = (layer, D)
        nu = 1.0
        if self.kl_clip and vg > 0:
            nu = min(1.0, math.sqrt(self.kl_clip / (vg * lr * lr)))
        directions = {}
        for layer, D in updates.values():
            m = layer.module
            nw = m.weight.array.size // m.weight.shape[0]
            directions[id(m.weight)] = (nu * D[:, :nw]).reshape(m.weight.shape)
            if m.bias is not None:
                directions[id(m.bias)] = nu * D[:, nw]
        for p in group["params"]:
            if p.grad is None:
                continue
            d = directions.get(id(p))
            if d is None:  # unsupported layer (or no factors yet): SGD
                d = p.grad.array + (wd * p.array if wd else 0)
            if mu:
                st = self.state[p]
                buf = st.get("momentum_buffer")
                if buf is None:
                    st["momentum_buffer"] = buf = self._zeros_like(p.array)
                    buf.array[...] = d
                else:
                    buf.array *= mu
                    buf.array += d
                d = buf.array
            p.array -= lr * d
            p._version += 1
        self.steps += 1
        return loss

    def preconditioned_gradient(self, layer_index=0):
        """The preconditioned [grad_W grad_b] of one layer from the current factors and gradients:
        (G + sqrt(l)/pi I)^{-1} V (A + pi sqrt(l) I)^{-1}, or the eigen solve (no step taken)."""
        layer = self.layers[layer_index]
        self._update_factors()
        self._update_inverses(self.param_groups[0]["damping"])
        return self._precondition(layer, self._grad_matrix(layer, 0.0), self.param_groups[0]["damping"])

    def factors(self):
        """{layer name: (A, G)}: the current running-average Kronecker factors."""
        return {layer.name: (layer.A, layer.G) for layer in self.layers}

    # ------------------------------------------------------------------ state dicts
    def state_dict(self):
        sd = super().state_dict()
        sd["kfac"] = {"steps": self.steps, "rng": copy.deepcopy(self._rng.bit_generator.state),
                      "layers": [{k: (getattr(la, k).copy() if hasattr(getattr(la, k), "copy") else getattr(la, k))
                                  for k in ("A", "G", "A_inv", "G_inv", "QA", "QG", "dA", "dG")}
                                 for la in self.layers]}
        return sd

    def load_state_dict(self, state_dict):
        extra = state_dict.get("kfac")
        if extra is None or len(extra["layers"]) != len(self.layers):
            raise ValueError("KFAC.load_state_dict: the state dict has no K-FAC factors for this model's layers")
        super().load_state_dict({k: v for k, v in state_dict.items() if k != "kfac"})
        self.steps = int(extra["steps"])
        self._rng.bit_generator.state = copy.deepcopy(extra["rng"])
        for la, saved in zip(self.layers, extra["layers"]):
            for k, v in saved.items():
                setattr(la, k, v.copy() if hasattr(v, "copy") else v)


def damped_inverses(A, G, damping):
    """(A + pi sqrt(l) I)^{-1}, (G + sqrt(l)/pi I)^{-1} with pi = sqrt((tr A/dim A)/(tr G/dim G))."""
    xp = backend.xp_of(A)
    ta = float(xp.trace(A)) / A.shape[0]
    tg = float(xp.trace(G)) / G.shape[0]
    pi = math.sqrt(ta / tg) if ta > 0 and tg > 0 else 1.0
    r = math.sqrt(damping)
    A_inv = xp.linalg.inv(A + (pi * r) * xp.eye(A.shape[0], dtype=A.dtype))
    G_inv = xp.linalg.inv(G + (r / pi) * xp.eye(G.shape[0], dtype=G.dtype))
    return A_inv, G_inv


try:  # registered for ``mathdl train --optimizer kfac``
    from .registry import register_optimizer

    @register_optimizer("kfac")
    def _build_kfac(model, cfg):
        """K-FAC natural gradient for Linear/Conv2d layers (Martens & Grosse 2015)"""
        opts = dict(cfg.get("optimizer_options") or {})
        momentum = 0.9 if cfg.get("momentum") is None else cfg["momentum"]
        return KFAC(model, lr=cfg["lr"], momentum=momentum, weight_decay=cfg.get("weight_decay") or 0.0, **opts)
except ImportError:  # pragma: no cover
    pass
