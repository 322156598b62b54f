"""Experiments: each module measures one claim of the deep-learning literature with mathdl, with
``run(quick=False, seeds=..., out=None)`` returning its numbers with their spread and a verdict
computed by a stated rule (``python -m mathdl.experiments.<name> --help``).

``mathdl reproduce`` (``reproduce``) runs them for the article's claims (``claims``), with the rules
of ``verdict``; ``classifier_runs`` trains the small classifiers several of them share.

* ``activations``: Swish, GELU, PReLU and Mish against ReLU in the same MLP.
* ``autodiff_speed``: Reverse-mode automatic differentiation against central finite differences: time and
  error.
* ``burgers``: Burgers' equation by a physics-informed network (Raissi, Perdikaris & Karniadakis 2019).
* ``calibration``: Is softmax + cross-entropy better calibrated than softmax + squared error?
* ``compression``: Compression: a 1,000,000-parameter fully connected layer compressed to 10,000 parameters
  keeps
* ``curvature_generalization``: Curvature at the minima SGD finds, and how it relates to generalization.
* ``depth``: Depth: skip connections make very deep ReLU networks trainable (He et al. 2016).
* ``depth_1000``: Training 1,001-layer networks: with skip connections and without.
* ``distillation``: Distillation: a small student trained on a teacher's softened outputs beats the same
  student
* ``edge_of_stability``: Edge of stability: under full-batch gradient descent with step eta, the sharpness
  rises to 2/eta.
* ``flows``: Normalizing flows: variational fitting of 2-D energies, density estimation, and flow posteriors
  in a VAE.
* ``focal_loss``: Focal loss against cross-entropy on long-tailed (imbalanced) training data.
* ``gradient_estimators``: Gradient estimators for d/dtheta E_{z ~ q_theta}[f(z)]: bias and variance on toy
  objectives.
* ``hybrid``: Does a neural network feeding soft evidence to a Bayesian network beat both alone?
* ``information_plane``: The information plane: is there a compression phase, and does it depend on the
  activation?
* ``landscape_skip``: Skip connections make the loss landscape smoother and more convex (Li et al. 2018).
* ``mixed_precision``: Mixed precision (float16 autocast + loss scaling) against float32: step time and
  accuracy.
* ``natural_gradient``: Natural gradient against first-order methods on digits, and Hessian-free on a deep
  autoencoder.
* ``optimizers``: Three optimizer claims of the article, measured on data that is here.
* ``pinn``: 1-D Poisson by a physics-informed network: the smallest PINN claim, checked in seconds.
* ``throughput``: ResNet-50 throughput on this CPU, and what the GPU claim needs.
* ``topology_depth``: Topology of representations simplifies with depth, faster with ReLU than with tanh.
* ``uncertainty``: Which uncertainty methods know what they do not know? (Gal & Ghahramani 2016; Blundell et
  al.
* ``vae``: VAE studies: perceptual vs pixel reconstruction loss, and Gumbel-softmax vs REINFORCE for discrete
  latents.
"""

__all__ = [
    "activations",
    "autodiff_speed",
    "burgers",
    "calibration",
    "claims",
    "classifier_runs",
    "compression",
    "curvature_generalization",
    "depth",
    "depth_1000",
    "distillation",
    "edge_of_stability",
    "flows",
    "focal_loss",
    "gradient_estimators",
    "hybrid",
    "information_plane",
    "landscape_skip",
    "mixed_precision",
    "natural_gradient",
    "optimizers",
    "pinn",
    "reproduce",
    "throughput",
    "topology_depth",
    "uncertainty",
    "vae",
    "verdict",
]
