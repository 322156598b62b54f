"""Optimizers (first-order), gradient clipping and learning-rate schedules, PyTorch-compatible.

``SGD``, ``Adam``, ``AdamW``, ``RMSprop``, ``Adagrad`` share :class:`Optimizer` (param groups,
``state_dict``); ``clip_grad_norm_`` / ``clip_grad_value_`` act on ``.grad``;
``mathdl.optim.lr_scheduler`` holds the schedules.
"""

from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .clip import clip_grad_norm_, clip_grad_value_, get_total_norm
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = [
    "Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad",
    "clip_grad_norm_", "clip_grad_value_", "get_total_norm", "lr_scheduler",
]
