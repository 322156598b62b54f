"""Curvature benchmarks (issue 9), mathdl against PyTorch, each library alone in a fresh process.

Cases (float32 unless noted):
  hvp      Hessian-vector product of a 784-512-512-10 tanh MLP's cross-entropy, batch 128
           (mathdl.curvature.HessianOperator.matvec; torch: double backward with torch.autograd)
  hvp_func the same product with torch.func (forward-over-reverse, jvp of grad) [torch only]
  ggn      Gauss-Newton-vector product J^T H_l J v of that MLP (GGNOperator; torch.func jvp + vjp)
  fvp      sampled-Fisher-vector product J^T s s^T J v (FisherOperator mode="sampled"; torch.func)
  lbfgs    one L-BFGS step (strong Wolfe, 20 iterations) of a logistic regression on breast cancer,
           float64, from zero weights
  kfac     a K-FAC training step on the MLP (forward, backward, factors, inverses amortized over
           10 steps, update) divided by an SGD step [mathdl only: a ratio, no torch counterpart]
  burgers  one training step of the Burgers PINN: the residual u_t + u u_x - nu u_xx at 10,000 collocation
           points of the experiment's tanh net, 8 hidden layers of 20 (inputs scaled to [-1, 1], the same
           weights in both libraries), the mean squared residual and its parameter gradient, float64.
           Each library by its fastest exact method:
           mathdl by forward Taylor-mode propagation of u_t, u_x, u_xx through the layers (mathdl.physics.mlp_jet,
           one reverse pass), torch as PyTorch PINN code does it, nested torch.autograd.grad(create_graph=True)
  burgers_autograd  the same step with nested reverse mode in both libraries (mathdl.physics.Derivatives,
           create_graph=True, against the same torch code): like for like

Every round starts one fresh process per library (order alternating); each reports the median of
its steps; the table shows medians over rounds and the ratio mathdl / torch per thread count.

    python benchmarks/bench_curvature.py [--rounds 3] [--steps 10] [--threads 1,2] [--cases hvp,ggn,...]
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository root
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import case_row, case_table_main  # noqa: E402

CASES = ["hvp", "hvp_func", "ggn", "fvp", "lbfgs", "kfac", "burgers", "burgers_autograd"]
BATCH, SIZES = 128, [784, 512, 512, 10]


def _data():
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], BATCH)
    ws = []
    for i, o in zip(SIZES[:-1], SIZES[1:]):
        ws.append((rng.standard_normal((o, i)) / np.sqrt(i)).astype(np.float32))
        ws.append(np.zeros(o, dtype=np.float32))
    v = [rng.standard_normal(w.shape).astype(np.float32) for w in ws]
    return x, y, ws, v


def _breast_cancer():
    import numpy as np
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    return (X - X.mean(0)) / X.std(0), y.astype(np.float64)


def _burgers_points(n=10000):
    import numpy as np

    rng = np.random.default_rng(0)
    return np.stack([rng.random(n), rng.uniform(-1, 1, n)], 1)


def _burgers_weights():
    """Glorot-normal weights and zero biases of a 2-20x8-1 network as [(W, b), ...] float64 NumPy arrays."""
    import numpy as np

    rng = np.random.default_rng(0)
    sizes = [2] + [20] * 8 + [1]
    return [(rng.standard_normal((o, i)) * np.sqrt(2.0 / (i + o)), np.zeros(o)) for i, o in zip(sizes[:-1], sizes[1:])]


# --------------------------------------------------------------------------- mathdl
def mathdl_cases():
    import numpy as np

    import mathdl as md
    from mathdl import nn
    from mathdl.curvature import FisherOperator, GGNOperator, HessianOperator
    from mathdl.nn import functional as F

    x, y, ws, v = _data()
    layers = []
    for k, (i, o) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        lin = nn.Linear(i, o)
        lin.weight.array[...] = ws[2 * k]
        lin.bias.array[...] = ws[2 * k + 1]
        layers += [lin, nn.Tanh()]
    model = nn.Sequential(*layers[:-1])
    data = (md.tensor(x), md.tensor(y))
    vflat = np.concatenate([a.ravel() for a in v])
    H = HessianOperator(model, F.cross_entropy, data)
    G = GGNOperator(model, F.cross_entropy, data)
    Fs = FisherOperator(model, F.cross_entropy, data, mode="sampled")
    cases = {"hvp": lambda: H.matvec(vflat), "ggn": lambda: G.matvec(vflat), "fvp": lambda: Fs.matvec(vflat)}

    X, yb = _breast_cancer()
    Xm, ym = md.tensor(X), md.tensor(yb)
    n_features = X.shape[1]  # bound now: X names the Burgers points further down

    def lbfgs():
        from mathdl.optim.lbfgs import LBFGS

        w = md.zeros(n_features, dtype=md.float64, requires_grad=True)
        b = md.zeros(1, dtype=md.float64, requires_grad=True)
        opt = LBFGS([w, b], line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = F.binary_cross_entropy_with_logits(Xm @ w + b, ym)
            loss.backward()
            return loss
        opt.step(closure)
    cases["lbfgs"] = lbfgs

    from mathdl.optim.kfac import KFAC

    # each optimizer on its own copy: K-FAC's capture hooks must not run inside the other cases' passes
    import copy

    kfac_model, sgd_model = copy.deepcopy(model), copy.deepcopy(model)
    kfac_opt = KFAC(kfac_model, lr=1e-3, inv_update_freq=10)
    sgd_opt = md.optim.SGD(sgd_model.parameters(), lr=1e-3, momentum=0.9)

    def train_step(opt, net):
        def step():
            opt.zero_grad()
            F.cross_entropy(net(data[0]), data[1]).backward()
            opt.step()
        return step
    cases["kfac"] = train_step(kfac_opt, kfac_model)
    cases["sgd"] = train_step(sgd_opt, sgd_model)

    from mathdl.experiments.burgers import NU, _network
    from mathdl.physics import Derivatives, mlp_jet

    net = _network(8, 20, 0)  # InputScale, then the Linear/Tanh layers; given the shared weights
    for lin, (W, b) in zip([m for m in net if isinstance(m, nn.Linear)], _burgers_weights()):
        lin.weight.array[...] = W
        lin.bias.array[...] = b
    pts = _burgers_points()
    X = md.tensor(pts)

    def burgers():  # forward Taylor mode: u, u_t, u_x, u_xx in one pass, then one reverse pass
        D = mlp_jet(net, X, first=[0, 1], second=[(1, 1)])
        r = D(0) + D() * D(1) - NU * D(1, 1)
        loss = (r * r).mean()
        net.zero_grad()
        loss.backward()

    def burgers_autograd():  # nested reverse mode, as the torch code
        xt = md.tensor(pts, requires_grad=True)
        D = Derivatives(net(xt), xt)
        r = D(0) + D() * D(1) - NU * D(1, 1)
        loss = (r * r).mean()
        net.zero_grad()
        loss.backward()
    cases["burgers"] = burgers
    cases["burgers_autograd"] = burgers_autograd
    return cases


# --------------------------------------------------------------------------- torch
def torch_cases(threads):
    import numpy as np
    import torch
    from torch.func import functional_call, grad, jvp, vjp

    torch.set_num_threads(threads)
    x, y, ws, v = _data()
    xt, yt = torch.tensor(x), torch.tensor(y)
    layers = []
    for k, (i, o) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        lin = torch.nn.Linear(i, o)
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(ws[2 * k]))
            lin.bias.copy_(torch.tensor(ws[2 * k + 1]))
        layers += [lin, torch.nn.Tanh()]
    model = torch.nn.Sequential(*layers[:-1])
    params = list(model.parameters())
    names = [n for n, _ in model.named_parameters()]
    vt = [torch.tensor(a) for a in v]
    F = torch.nn.functional

    def hvp():
        loss = F.cross_entropy(model(xt), yt)
        gs = torch.autograd.grad(loss, params, create_graph=True)
        dot = sum((g * u).sum() for g, u in zip(gs, vt))
        hv = torch.autograd.grad(dot, params)
        return torch.cat([h.reshape(-1) for h in hv])

    pdict = {n: p.detach() for n, p in zip(names, params)}
    vdict = dict(zip(names, vt))

    def loss_of(p):
        return F.cross_entropy(functional_call(model, p, (xt,)), yt)

    def hvp_func():
        return jvp(grad(loss_of), (pdict,), (vdict,))[1]

    def out_of(p):
        return functional_call(model, p, (xt,))

    def ggn():
        f, jv = jvp(out_of, (pdict,), (vdict,))
        p = torch.softmax(f, -1)
        hjv = (p * jv - p * (p * jv).sum(-1, keepdim=True)) / f.shape[0]
        _, pullback = vjp(out_of, pdict)
        return pullback(hjv)[0]

    gen = torch.Generator().manual_seed(0)

    def fvp():
        f, jv = jvp(out_of, (pdict,), (vdict,))
        p = torch.softmax(f, -1)
        lab = torch.multinomial(p, 1, generator=gen)[:, 0]
        s = p - F.one_hot(lab, p.shape[-1]).to(p.dtype)
        cot = s * (s * jv).sum(-1, keepdim=True) / f.shape[0]
        _, pullback = vjp(out_of, pdict)
        return pullback(cot)[0]

    X, yb = _breast_cancer()
    Xt, ytt = torch.tensor(X), torch.tensor(yb)

    def lbfgs():
        w = torch.zeros(X.shape[1], dtype=torch.float64, requires_grad=True)
        b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([w, b], line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = F.binary_cross_entropy_with_logits(Xt @ w + b, ytt)
            loss.backward()
            return loss
        opt.step(closure)

    mods = []
    for W, b in _burgers_weights():
        lin = torch.nn.Linear(W.shape[1], W.shape[0]).double()
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(W))
            lin.bias.copy_(torch.tensor(b))
        mods += [lin, torch.nn.Tanh()]
    net = torch.nn.Sequential(*mods[:-1])
    pts = torch.tensor(_burgers_points())
    lo, scale = torch.tensor([0.0, -1.0], dtype=torch.float64), torch.tensor([2.0, 1.0], dtype=torch.float64)
    nu = 0.01 / np.pi

    def burgers():  # the PINN step as PyTorch code writes it: nested reverse mode
        xx = pts.clone().requires_grad_(True)
        u = net((xx - lo) * scale - 1.0)[:, 0]
        (g,) = torch.autograd.grad(u.sum(), xx, create_graph=True)
        ut, ux = g[:, 0], g[:, 1]
        (g2,) = torch.autograd.grad(ux.sum(), xx, create_graph=True)
        r = ut + u * ux - nu * g2[:, 1]
        loss = (r * r).mean()
        net.zero_grad()
        loss.backward()

    return {"hvp": hvp, "hvp_func": hvp_func, "ggn": ggn, "fvp": fvp, "lbfgs": lbfgs, "burgers": burgers,
            "burgers_autograd": burgers}


# --------------------------------------------------------------------------- processes
def make_cases(lib, threads):
    return mathdl_cases() if lib == "mathdl" else torch_cases(threads)


def row(c, m, t):
    """kfac: the K-FAC step over the SGD step (mathdl only); hvp_func: mathdl's hvp against torch.func;
    burgers: mathdl's forward Taylor mode against torch's nested create_graph (each library's fastest)."""
    if c == "burgers" and "burgers" in t:
        return (f"{'burgers (jet vs torch cg)':<26} mathdl {m['burgers'] * 1e3:9.2f} ms   torch "
                f"{t['burgers'] * 1e3:9.2f} ms   ratio {m['burgers'] / t['burgers']:5.2f}x")
    if c == "kfac":
        return (f"{'kfac step / sgd step':<26} mathdl {m['kfac'] * 1e3:9.2f} ms / {m['sgd'] * 1e3:8.2f} ms   "
                f"ratio {m['kfac'] / m['sgd']:5.2f}x")
    if c == "hvp_func":
        if "hvp_func" not in t:
            return None
        return (f"{'hvp vs torch.func':<26} mathdl {m['hvp'] * 1e3:9.2f} ms   torch.func "
                f"{t['hvp_func'] * 1e3:9.2f} ms   ratio {m['hvp'] / t['hvp_func']:5.2f}x")
    return case_row(c, m, t)


def main(argv=None):
    case_table_main(__file__, CASES, make_cases, argv, description=__doc__.splitlines()[0],
                    title="curvature benchmarks", steps=10, needs={"kfac": ["sgd"], "hvp_func": ["hvp"]}, row=row)


if __name__ == "__main__":
    main()
