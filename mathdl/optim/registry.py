"""Named optimizer builders, so that ``mathdl train --optimizer NAME`` can find every optimizer.

A builder is ``fn(model, cfg) -> Optimizer`` decorated with ``@register_optimizer("name")``.
``cfg`` is the training configuration (``lr``, ``weight_decay``, ``momentum``, ...) and
``cfg["optimizer_options"]`` the ``--optim-opt KEY=VALUE`` pairs.  A builder that cannot serve a
model (a dense second-order method on a model too large for it) raises ``ValueError`` with the
reason; the command prints it as a one-line error.

An optimizer whose ``step`` needs a closure (L-BFGS, Newton, ...) sets the class attribute
``needs_closure = True``; the trainer then calls ``optimizer.step(closure)`` with a closure that
zeroes the gradients, recomputes the loss on the current batch, back-propagates and returns it.
"""

from __future__ import annotations

from ..data.registry import lookup, registrar

__all__ = ["OPTIMIZERS", "DEFAULT_LR", "register_optimizer", "build_optimizer", "optimizer_names"]

OPTIMIZERS: dict = {}
DEFAULT_LR: dict = {}  # name -> the learning rate the command uses when --lr is not given


def register_optimizer(name, description="", default_lr=None):
    """Decorator registering ``fn(model, cfg) -> Optimizer`` under ``name``; ``default_lr`` replaces the
    command's default learning rate for this optimizer (second-order methods take full steps, lr = 1)."""
    if default_lr is not None:
        DEFAULT_LR[name] = float(default_lr)
    return registrar(OPTIMIZERS, name, description)


def optimizer_names():
    return sorted(OPTIMIZERS)


def build_optimizer(name, model, cfg):
    """Build the registered optimizer ``name`` for ``model`` (``ValueError`` listing names if unknown)."""
    return lookup(OPTIMIZERS, "optimizer", name)(model, cfg)


def _opts(cfg):
    return dict(cfg.get("optimizer_options") or {})


@register_optimizer("adam")
def _adam(model, cfg):
    """Adam (Kingma & Ba 2015)"""
    from .adam import Adam

    return Adam(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"], **_opts(cfg))


@register_optimizer("adamw")
def _adamw(model, cfg):
    """AdamW, decoupled weight decay (Loshchilov & Hutter 2019)"""
    from .adam import AdamW

    return AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"], **_opts(cfg))


@register_optimizer("sgd")
def _sgd(model, cfg):
    """SGD with momentum (default 0.9)"""
    from .sgd import SGD

    momentum = 0.9 if cfg.get("momentum") is None else cfg["momentum"]
    return SGD(model.parameters(), lr=cfg["lr"], momentum=momentum, weight_decay=cfg["weight_decay"], **_opts(cfg))


@register_optimizer("rmsprop")
def _rmsprop(model, cfg):
    """RMSprop"""
    from .rmsprop import RMSprop

    return RMSprop(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"],
                   momentum=cfg.get("momentum") or 0.0, **_opts(cfg))


@register_optimizer("adagrad")
def _adagrad(model, cfg):
    """Adagrad"""
    from .adagrad import Adagrad

    return Adagrad(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"], **_opts(cfg))
