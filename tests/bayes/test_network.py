import numpy as np
import pytest

import mathdl as md
from mathdl.bayes import DiscreteBayesianNetwork


def _net(seed=0):
    bn = DiscreteBayesianNetwork({"A": 2, "B": 3, "C": 2, "D": 2, "E": 3},
                                 {"B": ["A"], "C": ["A", "B"], "D": ["C"], "E": ["B", "D"]})
    rng = np.random.default_rng(seed)
    for v in bn.variables:
        getattr(bn, f"cpt_{v}").array[...] = rng.standard_normal(bn.cpt_shape(v))
    return bn


@pytest.mark.parametrize("query", ["A", "B", "C", "D", "E"])
def test_variable_elimination_equals_enumeration(query):
    bn = _net()
    rng = np.random.default_rng(1)
    ev = {"D": np.array([0, 1, 1, 0])}
    soft = {"B": rng.random((4, 3)) + 0.05, "E": rng.random((4, 3)) + 0.05}
    ve = bn.marginal(query, evidence=ev, soft_evidence=soft).numpy()
    np.testing.assert_allclose(ve, bn.enumerate_marginal(query, evidence=ev, soft_evidence=soft), atol=1e-12)
    # no evidence: the prior marginal
    np.testing.assert_allclose(bn.marginal(query).numpy(), bn.enumerate_marginal(query), atol=1e-12)


def test_log_evidence_equals_brute_force():
    bn = _net(2)
    joint = np.exp(bn.log_joint_table().detach().numpy())
    assert joint.sum() == pytest.approx(1.0)
    assert float(bn.log_evidence().numpy()[0]) == pytest.approx(0.0, abs=1e-12)
    le = bn.log_evidence(evidence={"A": np.array([1]), "E": np.array([2])}).numpy()
    assert le[0] == pytest.approx(np.log(joint[1, :, :, :, 2].sum()))


def test_inference_is_differentiable():
    bn = _net()
    ev = {"E": np.array([0, 2])}
    soft = md.tensor(np.array([[0.2, 0.5, 0.3], [0.6, 0.3, 0.1]]), requires_grad=True)

    # gradient with respect to the soft evidence (the CPT parameters are leaves of the module)
    assert md.autograd.gradcheck(lambda lam: bn.log_marginal("A", evidence=ev, soft_evidence={"B": lam}), (soft,))
    out = bn.log_marginal("A", evidence=ev, soft_evidence={"B": soft})[:, 1].sum()
    out.backward()
    g = bn.cpt_C.grad.numpy().copy()
    # finite differences on one CPT logit
    eps = 1e-6
    bn.cpt_C.array[0, 1, 1] += eps
    up = float(bn.log_marginal("A", evidence=ev, soft_evidence={"B": soft.detach()})[:, 1].sum().item())
    bn.cpt_C.array[0, 1, 1] -= 2 * eps
    dn = float(bn.log_marginal("A", evidence=ev, soft_evidence={"B": soft.detach()})[:, 1].sum().item())
    assert g[0, 1, 1] == pytest.approx((up - dn) / (2 * eps), rel=1e-5, abs=1e-8)


def test_end_to_end_training_with_soft_evidence():
    """A linear layer feeding soft evidence on a latent variable learns, jointly with the CPTs."""
    rng = np.random.default_rng(0)
    n = 200
    y = rng.integers(0, 2, n)
    x = (y[:, None] * 2.0 - 1) + 0.8 * rng.standard_normal((n, 2))
    md.manual_seed(0)
    bn = DiscreteBayesianNetwork({"Y": 2, "Z": 2}, {"Z": ["Y"]})
    enc = md.nn.Linear(2, 2).double()
    opt = md.optim.Adam(list(bn.parameters()) + list(enc.parameters()), lr=0.05)
    losses = []
    for _ in range(60):
        lam = md.softmax(enc(md.tensor(x)), dim=1)
        logp = bn.log_marginal("Y", soft_evidence={"Z": lam})
        loss = -(logp * md.tensor(np.eye(2)[y])).sum() / n
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    assert losses[-1] < 0.6 * losses[0]


def test_bad_structure_and_tables():
    bn = _net()
    with pytest.raises(ValueError, match="table for 'C' has shape"):
        bn.set_cpt("C", np.full((2, 2), 0.5))
    with pytest.raises(ValueError, match="rows summing to 1"):
        bn.set_cpt("A", np.array([0.3, 0.3]))
    with pytest.raises(ValueError, match="cycle"):
        DiscreteBayesianNetwork({"A": 2, "B": 2}, {"A": ["B"], "B": ["A"]})
    with pytest.raises(ValueError, match="parent 'Q'"):
        DiscreteBayesianNetwork({"A": 2}, {"A": ["Q"]})
    with pytest.raises(ValueError, match="evidence for 'A' must be in"):
        bn.marginal("B", evidence={"A": np.array([2])})
    with pytest.raises(ValueError, match="soft evidence for 'B'"):
        bn.marginal("A", soft_evidence={"B": np.ones((2, 2))})
    with pytest.raises(ValueError, match="unknown variable"):
        bn.marginal("Q")


def test_fit_counts_is_maximum_likelihood():
    bn = DiscreteBayesianNetwork({"A": 2, "B": 2}, {"B": ["A"]})
    data = {"A": np.array([0, 0, 1, 1, 1]), "B": np.array([0, 1, 1, 1, 0])}
    bn.fit_counts(data, alpha=0.0 + 1e-12)
    np.testing.assert_allclose(bn.cpt("A").numpy(), [0.4, 0.6], atol=1e-9)
    np.testing.assert_allclose(bn.cpt("B").numpy(), [[0.5, 0.5], [1 / 3, 2 / 3]], atol=1e-9)
