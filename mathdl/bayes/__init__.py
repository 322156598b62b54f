"""Bayesian deep learning: networks that say how sure they are.

* :mod:`~mathdl.bayes.mc_dropout`: MC dropout and the uncertainty decomposition (predictive
  entropy = expected entropy + mutual information);
* :mod:`~mathdl.bayes.bbb`: Bayes by Backprop layers (BayesLinear, BayesConv2d), priors, KL, ELBO;
* :mod:`~mathdl.bayes.laplace`: the Laplace approximation (full / diag / K-FAC GGN, last layer or
  all weights, marginal-likelihood prior precision, linearized and sampled predictives);
* :mod:`~mathdl.bayes.ensemble`: deep ensembles;
* :mod:`~mathdl.bayes.swag`: SWAG;
* :mod:`~mathdl.bayes.network`: discrete Bayesian networks with differentiable exact inference;
* :mod:`~mathdl.bayes.cli_support`: the hooks behind ``mathdl train --bayes`` and
  ``mathdl evaluate --uncertainty``.
"""

from .bbb import (BayesConv2d, BayesLinear, BBBPredictive, GaussianPrior, ScaleMixturePrior, bayesify, elbo_loss,
                  kl_divergence, kl_weights, posterior_mean)
from .ensemble import DeepEnsemble, train_ensemble
from .laplace import Laplace
from .mc_dropout import MCDropout, decompose, mc_dropout_samples
from .network import DiscreteBayesianNetwork
from .swag import SWAG, bn_update

__all__ = ["MCDropout", "decompose", "mc_dropout_samples", "BayesLinear", "BayesConv2d", "GaussianPrior",
           "ScaleMixturePrior", "kl_divergence", "kl_weights", "elbo_loss", "posterior_mean", "bayesify",
           "BBBPredictive", "Laplace", "DeepEnsemble", "train_ensemble", "SWAG", "bn_update",
           "DiscreteBayesianNetwork"]
