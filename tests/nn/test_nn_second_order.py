"""Second order through a whole network of fused layers: the gradient of a gradient penalty
(grad-of-grad through Linear, LayerNorm, GELU, SiLU, Softplus, BatchNorm, Embedding) matches torch."""

import numpy as np
import pytest

import mathdl
import mathdl.nn as nn

torch = pytest.importorskip("torch")


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(5, 4)
        self.fc1 = nn.Linear(4, 6)
        self.ln = nn.LayerNorm(6)
        self.bn = nn.BatchNorm1d(6)
        self.fc2 = nn.Linear(6, 3)
        self.act = [nn.GELU(), nn.SiLU(), nn.Softplus(), nn.Mish(), nn.ELU(), nn.GELU(approximate="tanh")]

    def forward(self, idx, x):
        h = self.fc1(self.emb(idx) + x)
        h = self.act[0](self.ln(h)) + self.act[1](h) * 0.5 + self.act[2](h) * 0.25
        h = self.bn(h)
        h = self.act[3](h) + self.act[4](h) + self.act[5](h)
        return self.fc2(h)


class TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(5, 4)
        self.fc1 = torch.nn.Linear(4, 6)
        self.ln = torch.nn.LayerNorm(6)
        self.bn = torch.nn.BatchNorm1d(6)
        self.fc2 = torch.nn.Linear(6, 3)
        self.act = [torch.nn.GELU(), torch.nn.SiLU(), torch.nn.Softplus(), torch.nn.Mish(), torch.nn.ELU(),
                    torch.nn.GELU(approximate="tanh")]

    forward = Net.forward


def test_gradient_penalty_matches_torch():
    mathdl.manual_seed(0)
    m = Net().double()
    tm = TorchNet().double()
    with torch.no_grad():
        for k, v in m.state_dict().items():
            tm.state_dict()[k].copy_(torch.from_numpy(v.array))
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 5, size=7)
    x = rng.standard_normal((7, 4))
    xm = mathdl.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    params = list(m.parameters())
    tparams = list(tm.parameters())

    out = m(mathdl.tensor(idx), xm)
    (gx,) = mathdl.autograd.grad((out ** 2).sum(), [xm], create_graph=True)
    penalty = (gx ** 2).sum()
    grads = mathdl.autograd.grad(penalty, params)

    tout = tm(torch.tensor(idx), xt)
    (tgx,) = torch.autograd.grad((tout ** 2).sum(), [xt], create_graph=True)
    tpenalty = (tgx ** 2).sum()
    tgrads = torch.autograd.grad(tpenalty, tparams)

    np.testing.assert_allclose(penalty.item(), tpenalty.item(), rtol=1e-10)
    for (name, _), g, tg in zip(m.named_parameters(), grads, tgrads):
        np.testing.assert_allclose(g.array, tg.numpy(), rtol=1e-8, atol=1e-10, err_msg=name)
