"""1-D Poisson by a physics-informed network: the smallest PINN claim, checked in seconds.

Claim: a small tanh network trained on the residual of

    -u''(x) = pi^2 sin(pi x) on (0, 1),   u(0) = u(1) = 0,

and its two boundary values (Adam, then L-BFGS with a strong-Wolfe line search) recovers the
solution u(x) = sin(pi x) to a relative L2 error below 1e-3.

Setup: 1-20-20-1 tanh network in float64, 64 Sobol collocation points, Adam (lr 1e-2) then L-BFGS;
error on 201 equispaced points against the exact solution.  Verdict rule: holds if the error is
below 1e-3 for every seed, holds only partly if for some, does not hold otherwise.

  python -m mathdl.experiments.pinn [--quick] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

__all__ = ["solve_poisson", "run", "main"]


def solve_poisson(seed=0, adam_steps=300, lbfgs_steps=4, n_colloc=64):
    """Train the PINN for one seed; returns (relative L2 error, seconds, the PINN)."""
    import mathdl as md
    from mathdl import nn
    from ..physics import PINN, DirichletBC, sample_box

    md.manual_seed(seed)
    model = nn.Sequential(nn.Linear(1, 20), nn.Tanh(), nn.Linear(20, 20), nn.Tanh(), nn.Linear(20, 1)).double()

    def residual(X, D):
        return -D(0, 0) - np.pi ** 2 * md.sin(np.pi * X[:, 0])

    pinn = PINN(model, residual, sample_box([(0, 1)], n_colloc, "sobol", seed=seed), [DirichletBC([[0.0], [1.0]], 0.0)])
    start = time.perf_counter()
    pinn.fit(adam_steps=adam_steps, adam_lr=1e-2, lbfgs_steps=lbfgs_steps, lbfgs_max_iter=50)
    seconds = time.perf_counter() - start
    xt = np.linspace(0, 1, 201)[:, None]
    ref = np.sin(np.pi * xt[:, 0])
    return float(np.linalg.norm(pinn.predict(xt) - ref) / np.linalg.norm(ref)), seconds, pinn


def run(quick=False, seeds=(0, 1, 2)):
    """Errors and times per seed, their mean and spread, and the verdict."""
    if quick:
        seeds = seeds[:1]
    rows = []
    for s in seeds:
        err, sec, _ = solve_poisson(s, adam_steps=150 if quick else 300, lbfgs_steps=2 if quick else 4)
        rows.append({"seed": s, "rel_l2": err, "seconds": sec})
    errs = np.array([r["rel_l2"] for r in rows])
    ok = int((errs < 1e-3).sum())
    from .verdict import DOES_NOT_HOLD, HOLDS, PARTLY

    verdict = HOLDS if ok == len(rows) else (PARTLY if ok else DOES_NOT_HOLD)
    return {"claim": "a PINN solves 1-D Poisson to relative L2 < 1e-3 in seconds", "runs": rows,
            "rel_l2_mean": float(errs.mean()), "rel_l2_std": float(errs.std()),
            "seconds_mean": float(np.mean([r["seconds"] for r in rows])), "verdict": verdict}


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m mathdl.experiments.pinn", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = ap.parse_args(argv)
    print(json.dumps(run(quick=args.quick, seeds=tuple(args.seeds)), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
