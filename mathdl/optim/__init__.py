"""Optimizers, gradient clipping and learning-rate schedules, PyTorch-compatible.

First-order: ``SGD``, ``Adam``, ``AdamW``, ``NAdam``, ``RAdam``, ``Adamax``, ``Adadelta``,
``Adagrad``, ``RMSprop``, ``Rprop``, ``ASGD``, ``Adafactor``, all on :class:`Optimizer` (param groups,
``state_dict``).  Second-order and natural-gradient methods (``LBFGS``, ``Newton``, ``HessianFree``,
``AdaHessian``, ``NaturalGradient``, ``KFAC``) and ``Lookahead`` load on first use.
``clip_grad_norm_`` / ``clip_grad_value_`` act on ``.grad``; :mod:`mathdl.optim.lr_scheduler`
holds the schedules; :mod:`mathdl.optim.registry` names every optimizer for ``mathdl train``.
"""

import importlib as _importlib

from . import lr_scheduler, registry
from .adadelta import Adadelta
from .adafactor import Adafactor
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .asgd import ASGD
from .clip import clip_grad_norm_, clip_grad_value_, get_total_norm
from .nadam import NAdam
from .optimizer import Optimizer
from .radam import RAdam
from .rmsprop import RMSprop
from .rprop import Rprop
from .sgd import SGD

# Second-order, natural-gradient and wrapper optimizers: name -> module (loaded lazily).
_LAZY = {
    "LBFGS": "lbfgs", "Newton": "newton", "HessianFree": "hessian_free", "AdaHessian": "adahessian",
    "NaturalGradient": "natural_gradient", "KFAC": "kfac", "Lookahead": "lookahead",
}

__all__ = [
    "Optimizer", "SGD", "Adam", "AdamW", "NAdam", "RAdam", "Adamax", "Adadelta", "RMSprop", "Adagrad", "Rprop",
    "ASGD", "Adafactor", "clip_grad_norm_", "clip_grad_value_", "get_total_norm", "lr_scheduler", "registry",
]


def __getattr__(name):
    if name in _LAZY:
        module = _importlib.import_module(f"{__name__}.{_LAZY[name]}")
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


# Importing these modules registers their optimizers for ``mathdl train --optimizer``; a module still
# being written may be absent.
for _mod in _LAZY.values():
    try:
        _importlib.import_module(f"{__name__}.{_mod}")
    except ModuleNotFoundError as _e:  # pragma: no cover
        if _e.name != f"{__name__}.{_mod}":
            raise
    else:
        __all__ += [n for n, m in _LAZY.items() if m == _mod]
del _mod
