"""End to end with mathdl.nn: an MLP trained 5 steps (cross-entropy, clipping, a schedule)
stays equal to the same run in PyTorch, in float64."""

import numpy as np
import pytest

import mathdl
import mathdl.optim as optim

torch = pytest.importorskip("torch")
nn = pytest.importorskip("mathdl.nn")
F = pytest.importorskip("mathdl.nn.functional")
if not (hasattr(nn, "Linear") and hasattr(F, "cross_entropy")):  # pragma: no cover
    pytest.skip("mathdl.nn.Linear / F.cross_entropy not available", allow_module_level=True)


def _models():
    sizes = [12, 16, 16, 5]
    layers, tlayers = [], []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b, dtype=mathdl.float64))
        tlayers.append(torch.nn.Linear(a, b, dtype=torch.float64))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
            tlayers.append(torch.nn.ReLU())
    model, tmodel = nn.Sequential(*layers), torch.nn.Sequential(*tlayers)
    with torch.no_grad():
        for p, t in zip(model.parameters(), tmodel.parameters()):
            t.copy_(torch.from_numpy(np.array(p.numpy())))
    return model, tmodel


@pytest.mark.parametrize("opt_name,kw", [("Adam", dict(lr=0.05, weight_decay=1e-2)),
                                         ("SGD", dict(lr=0.2, momentum=0.9, nesterov=True)),
                                         ("AdamW", dict(lr=0.05, amsgrad=True)),
                                         ("RMSprop", dict(lr=0.01, centered=True))])
def test_mlp_training_matches_torch(opt_name, kw):
    mathdl.manual_seed(0)
    model, tmodel = _models()
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((32, 12)), rng.integers(0, 5, 32)
    opt = getattr(optim, opt_name)(model.parameters(), **kw)
    topt = getattr(torch.optim, opt_name)(tmodel.parameters(), **kw)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=5)
    tsched = torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=5)
    xm, ym, xt, yt = mathdl.tensor(x), mathdl.tensor(y), torch.tensor(x), torch.tensor(y)
    for _ in range(5):
        opt.zero_grad()
        loss = F.cross_entropy(model(xm), ym)
        loss.backward()
        n = optim.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        topt.zero_grad()
        tloss = torch.nn.functional.cross_entropy(tmodel(xt), yt)
        tloss.backward()
        tn = torch.nn.utils.clip_grad_norm_(tmodel.parameters(), 1.0)
        topt.step()
        tsched.step()
        assert loss.item() == pytest.approx(tloss.item(), rel=1e-9)
        assert n.item() == pytest.approx(tn.item(), rel=1e-9)
    for p, t in zip(model.parameters(), tmodel.parameters()):
        np.testing.assert_allclose(p.numpy(), t.detach().numpy(), rtol=1e-9, atol=1e-10)
