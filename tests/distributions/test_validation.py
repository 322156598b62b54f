"""Invalid parameters and values raise ValueError naming the parameter and the constraint."""

import numpy as np
import pytest

import mathdl as md
import mathdl.distributions as D


@pytest.mark.parametrize("make,param,constraint", [
    (lambda: D.Normal(0.0, -1.0), "scale", "GreaterThan"),
    (lambda: D.Normal(md.tensor([0.0, np.nan]), 1.0), "loc", "Real"),
    (lambda: D.Bernoulli(probs=1.5), "probs", "Interval"),
    (lambda: D.Binomial(3, probs=-0.1), "probs", "Interval"),
    (lambda: D.Gamma(-1.0, 1.0), "concentration", "GreaterThan"),
    (lambda: D.Beta(1.0, 0.0), "concentration0", "GreaterThan"),
    (lambda: D.Exponential(0.0), "rate", "GreaterThan"),
    (lambda: D.Categorical(probs=md.tensor([0.5, -0.5])), "probs", "Simplex"),
    (lambda: D.Dirichlet(md.tensor([1.0, -1.0])), "concentration", "GreaterThan"),
    (lambda: D.StudentT(-2.0), "df", "GreaterThan"),
    (lambda: D.Uniform(2.0, 1.0), "low", "LessThan"),
    (lambda: D.MultivariateNormal(md.zeros(2), covariance_matrix=md.tensor([[1.0, 2.0], [2.0, 1.0]])),
     "covariance_matrix", "PositiveDefinite"),
    (lambda: D.MultivariateNormal(md.zeros(2), scale_tril=md.tensor([[1.0, 0.0], [2.0, -1.0]])),
     "scale_tril", "LowerCholesky"),
    (lambda: D.Poisson(-1.0), "rate", "GreaterThanEq"),
])
def test_invalid_parameters(make, param, constraint):
    with pytest.raises(ValueError) as e:
        make()
    assert f"parameter {param}" in str(e.value) and constraint in str(e.value)


@pytest.mark.parametrize("d,value", [
    (lambda: D.Exponential(1.0), -1.0),
    (lambda: D.Beta(2.0, 2.0), 1.5),
    (lambda: D.Bernoulli(0.3), 0.5),
    (lambda: D.Poisson(2.0), 1.5),
    (lambda: D.Gamma(2.0, 1.0), -0.1),
    (lambda: D.Uniform(0.0, 1.0), 2.0),
])
def test_value_outside_support(d, value):
    with pytest.raises(ValueError, match="support"):
        d().log_prob(md.tensor(value))


def test_validate_args_off_and_missing_parameterization():
    D.Normal(0.0, -1.0, validate_args=False)
    with pytest.raises(ValueError, match="probs.*logits"):
        D.Bernoulli()
    with pytest.raises(ValueError, match="exactly one"):
        D.MultivariateNormal(md.zeros(2))
