"""``mathdl.distributions``: probability distributions with reparameterized sampling
(``torch.distributions``' names and semantics), transforms, and KL divergences.

Every distribution has ``batch_shape``/``event_shape``, ``sample``/``rsample(sample_shape)``,
``log_prob``, and where they exist in closed form ``cdf``/``icdf``, ``entropy``, ``mean``, ``mode``,
``variance``, ``stddev``; ``expand``; ``support`` and ``arg_constraints`` checked when
``validate_args`` (on by default).  Gamma, Beta, Dirichlet, Chi2 and StudentT are reparameterized
through implicit gradients of a standard-gamma sample (:mod:`.implicit`).
"""

from . import constraints, transforms
from .bernoulli import Bernoulli
from .beta import Beta
from .binomial import Binomial
from .categorical import Categorical, OneHotCategorical, OneHotCategoricalStraightThrough
from .cauchy import Cauchy
from .dirichlet import Dirichlet
from .distribution import Distribution
from .exponential import Exponential
from .gamma import Chi2, Gamma
from .geometric import Geometric
from .half_normal import HalfNormal
from .independent import Independent
from .kl import kl_divergence, register_kl
from .laplace import Laplace
from .lowrank_multivariate_normal import LowRankMultivariateNormal
from .mixture_same_family import MixtureSameFamily
from .multinomial import Multinomial
from .multivariate_normal import MultivariateNormal
from .normal import Normal
from .poisson import Poisson
from .relaxed import (
    ExpRelaxedCategorical, LogitRelaxedBernoulli, RelaxedBernoulli, RelaxedOneHotCategorical, gumbel_softmax,
)
from .studentT import StudentT
from .transformed_distribution import LogNormal, TransformedDistribution
from .transforms import (
    AffineTransform, ComposeTransform, ExpTransform, PowerTransform, SigmoidTransform, SoftplusTransform,
    StickBreakingTransform, TanhTransform, Transform,
)
from .uniform import Uniform

__all__ = [
    "Bernoulli", "Beta", "Binomial", "Categorical", "Cauchy", "Chi2", "Dirichlet", "Distribution",
    "ExpRelaxedCategorical", "Exponential", "Gamma", "Geometric", "HalfNormal", "Independent", "Laplace",
    "LogNormal", "LogitRelaxedBernoulli", "LowRankMultivariateNormal", "MixtureSameFamily", "Multinomial",
    "MultivariateNormal", "Normal", "OneHotCategorical", "OneHotCategoricalStraightThrough", "Poisson",
    "RelaxedBernoulli", "RelaxedOneHotCategorical", "StudentT", "TransformedDistribution", "Uniform",
    "AffineTransform", "ComposeTransform", "ExpTransform", "PowerTransform", "SigmoidTransform",
    "SoftplusTransform", "StickBreakingTransform", "TanhTransform", "Transform",
    "constraints", "transforms", "kl_divergence", "register_kl", "gumbel_softmax",
]
