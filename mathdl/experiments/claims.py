"""The article's quantitative claims, each tied to the experiment that measures it here.

A :class:`Claim` has an id, the claim as the article states it, where it states it, and
``run(quick, seeds, out) -> record`` (see :mod:`mathdl.experiments.reproduce` for the record's
fields).  ``run`` calls the experiment module that owns the measurement (never a copy of it) and
turns its numbers into a setup line, a measurement line with spread, figures and a verdict by a
rule of :mod:`mathdl.experiments.verdict`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import verdict as V

__all__ = ["Claim", "CLAIMS", "claim"]


@dataclass
class Claim:
    id: str
    statement: str
    source: str
    run: Callable | None = None


CLAIMS: dict[str, Claim] = {}

ARTICLE = "Karnam 2024"


def claim(id, statement, source):
    """Decorator: register ``fn(quick, seeds, out) -> record`` as the measurement of a claim."""

    def deco(fn):
        CLAIMS[id] = Claim(id, statement, f"{ARTICLE}, {source}", fn)
        return fn

    return deco


def _untestable(id, statement, source, reason, setup):
    def fn(quick, seeds, out):
        return {"setup": setup, "measurement": "nothing measured", "numbers": {},
                "verdict": V.not_testable(reason).as_dict(), "figures": []}

    claim(id, statement, source)(fn)


def _pending(id, statement, source, module):
    """A claim whose experiment is not built yet: running it reports that plainly."""

    def fn(quick, seeds, out):
        raise NotImplementedError(f"the experiment for this claim (mathdl.experiments.{module}) is not built yet")

    claim(id, statement, source)(fn)


# --------------------------------------------------------------------------------------- Table 1
_pending("gpu_resnet50", "GPU acceleration (ResNet-50): frames processed per second from 50 to 500 (900%).",
         "Table 1", "throughput")
_pending("svd_compression", "Researchers compressed a fully connected layer with 1 million parameters to just 10,000 "
         "parameters while maintaining 99% of the original accuracy.", "section II and Table 1", "compression")
_pending("tensor_cnn", "A tensor-based convolutional network achieved a 5% improvement in accuracy over traditional "
         "CNNs on the UCF101 dataset.", "section II and Table 1", "compression")
_pending("mixed_precision", "Mixed precision training can nearly double the training speed while maintaining model "
         "accuracy (training speed 1 -> 2).", "section II and Table 1", "mixed_precision")
_pending("quantum_inspired", "Quantum-inspired algorithms: matrix operation speed 1 -> 10 (900%).", "Table 1",
         "compression")

# --------------------------------------------------------------------------------------- Table 2
_pending("adam_vs_sgd", "Adam: convergence speed 1.0 -> 1.5 (50%) over the baseline.", "Table 2", "optimizers")
_pending("lbfgs_time", "L-BFGS did as well as SGD in fewer iterations, cutting training time by up to 30%.",
         "section III and Table 2", "optimizers")
_pending("depth_1000", "ResNet uses ReLU activations and skip connections; these networks could have more than 1000 "
         "layers (network depth 50 -> 1000).", "section III and Table 2", "depth")
_untestable("resnet_top5", "ResNet: top-5 error rate 5.1% -> 3.57% on ImageNet.", "section III and Table 2",
            "ImageNet (1.28M images, ~150 GB) is not available here and cannot be downloaded; a top-5 error on "
            "ImageNet cannot be measured on any data set that is", "nothing run")
_pending("autodiff_speed", "Automatic differentiation: gradient computation time 1.0 -> 0.1 (90%).", "Table 2",
         "autodiff_speed")
_pending("natural_gradient", "Natural gradient descent: convergence rate 1.0 -> 1.3 (30%).", "section III and Table 2",
         "natural_gradient")

# --------------------------------------------------------------------------------------- probability
_pending("bnn_auroc", "Bayesian neural networks quantify model uncertainty; in diabetic retinopathy detection BNN "
         "uncertainty reached an AUROC of 0.936.", "section IV", "uncertainty")
_pending("generative_models", "VAEs generate new samples; normalizing flows outperformed traditional statistical "
         "models by a margin of 15% in terms of F1 score.", "section IV", "flows")
_pending("hybrid_bayes_net", "Hybrid models combining neural networks with Bayesian networks outperformed both "
         "standalone parts.", "section IV", "uncertainty")
_pending("gumbel_softmax", "The Gumbel-Softmax trick allows backpropagation through discrete random variables, "
         "enabling the training of models with discrete latent variables.", "section III", "vae")
_untestable("causal_rl", "A causal model-based reinforcement learning agent needed 40% fewer samples.", "section VI",
            "reinforcement learning with causal models is outside this framework's scope (no environments, no "
            "causal discovery); mathdl does not pretend to measure it", "nothing run")

# --------------------------------------------------------------------------------------- losses, activations
_pending("focal_loss", "Focal loss made a ResNet-50 3.2% more accurate than cross-entropy on CIFAR-100, and up to "
         "7.5% on minority classes.", "section V", "focal_loss")
_pending("perceptual_loss", "The perceptual loss improved perceptual quality by 20% over pixel losses.",
         "section V", "vae")
_pending("activations", "Swish beat ReLU by 0.5% top-1 (small models); GELU, PReLU and Mish (+1%) also improve on "
         "ReLU.", "section V", "activations")
_pending("ce_calibration", "Cross-entropy loss with softmax gives more accurate (better calibrated) probability "
         "estimates than mean squared error.", "section V", "calibration")
_pending("lookahead", "The Lookahead optimizer improved accuracy by 1.2% and needed 30% fewer training runs.",
         "section VI", "optimizers")
_pending("physics_informed", "Physics-informed losses gave more accurate and physically consistent predictions.",
         "section V", "burgers")

# --------------------------------------------------------------------------------------- geometry, topology
_pending("negative_curvature", "Directions of negative curvature at minima relate to generalization.",
         "section VI", "curvature_generalization")
_pending("smooth_landscapes", "The loss landscape of residual networks is much smoother than that of standard "
         "feedforward networks, which is why they are easier to optimize.", "section III", "landscape_skip")
_pending("topology_layers", "The topological structure of feature spaces changes through CNN layers (the article: "
         "becomes more complicated; Naitzat et al. 2020 found it simplifies).", "section VI", "topology_depth")
_pending("information_bottleneck", "The information bottleneck: training shows phase transitions with a "
         "compression phase.", "section IV", "information_plane")
_pending("distillation", "Knowledge distillation: a smaller model trained to mimic a larger one keeps much of its "
         "accuracy.", "section I", "distillation")
