"""Perceptual (feature-reconstruction) loss (Johnson, Alahi & Fei-Fei 2016).

  L(x, y) = sum_l w_l * mean((phi_l(x) - phi_l(y))^2)        (criterion="mse"; "l1" uses |.|)

where phi_l are intermediate activations of a fixed network (``feature_extractor``: any mathdl model;
``layers`` are submodule names as in ``named_modules()``).  The network is not trained by this loss:
it is held outside the module's parameters and run in eval mode; gradients flow to the inputs.
"""

from __future__ import annotations

from .module import Module

__all__ = ["PerceptualLoss"]


class PerceptualLoss(Module):
    def __init__(self, feature_extractor, layers, weights=None, criterion="mse", reduction="mean"):
        super().__init__()
        from ..feature_extraction import create_feature_extractor

        layers = [str(n) for n in layers]
        if not layers:
            raise ValueError("PerceptualLoss: layers must name at least one submodule")
        if weights is None:
            weights = [1.0] * len(layers)
        weights = [float(w) for w in weights]
        if len(weights) != len(layers):
            raise ValueError(f"PerceptualLoss: {len(weights)} weights for {len(layers)} layers")
        if criterion not in ("mse", "l1"):
            raise ValueError(f"PerceptualLoss: criterion must be 'mse' or 'l1', got {criterion!r}")
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"PerceptualLoss: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        # not registered as a submodule: its parameters are not the loss's (and are not trained by it)
        self.__dict__["extractor"] = create_feature_extractor(feature_extractor, layers)
        self.layers, self.weights, self.criterion, self.reduction = layers, weights, criterion, reduction

    def per_example(self, input, target):
        """The loss of each example (shape (N,))."""
        from ... import no_grad

        ext = self.__dict__["extractor"]
        ext.model.eval()
        fx = ext(input)
        with no_grad():
            fy = ext(target)
        total = None
        for name, w in zip(self.layers, self.weights):
            d = fx[name] - fy[name].detach()
            d = d * d if self.criterion == "mse" else d.abs()
            term = d.reshape(d.shape[0], -1).mean(-1) * w
            total = term if total is None else total + term
        return total

    def forward(self, input, target):
        per = self.per_example(input, target)
        if self.reduction == "mean":
            return per.mean()
        if self.reduction == "sum":
            return per.sum()
        return per
