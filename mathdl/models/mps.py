"""The matrix-product-state classifier (Stoudenmire & Schwab 2016) as a registered model "mps":
one site per input value (prod(spec.input_shape)), bond dimension ``bond_dim`` (default 10), the
inputs squashed into [0, 1] by a sigmoid before the local map (cos, sin)(pi x / 2).  The model
itself is :class:`mathdl.compress.mps.MPSClassifier`."""

from __future__ import annotations

import math

from .registry import register_model

__all__ = ["build_mps"]


@register_model("mps")
def build_mps(spec, bond_dim=10, squash=True):
    """Matrix product state over a cos/sin feature map of the inputs (bond_dim=10)."""
    from ..compress.mps import MPSClassifier

    if spec.task != "classification":
        raise ValueError(f"mps: needs a classification dataset, got task {spec.task!r}")
    return MPSClassifier(math.prod(spec.input_shape), spec.num_classes, bond_dim=int(bond_dim), squash=bool(squash))


build_mps.train_defaults = {"epochs": 20, "batch_size": 64, "lr": 5e-3, "optimizer": "adam", "threads": 1}
