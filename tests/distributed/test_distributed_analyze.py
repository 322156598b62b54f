"""``mpiexec -n 2 mathdl analyze``: the same numbers as one process, with the work split over the ranks.

A tiny MLP is trained for one epoch on digits.  One plain process (a subprocess, to check that
mpi4py is not imported outside MPI) and one ``mpiexec -n 2`` job run the same driver: ``analyze
landscape --kind hessian`` (grid points split over ranks; the Hessian products that find the two
directions split by batches), ``analyze spectrum`` (every Hessian-vector product split by
batches), then the library's ``convexity_map(distributed=True)`` and a GGN product of
``ShardedOperator``.  The JSON files must agree (bit for bit is expected: the batches' products
are summed in the single-process order; the tolerances allow rounding only), each rank must have
done part of the work, and only rank 0 prints.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from mathdl import cli

from .conftest import ROOT, clean_env

COMMON = ["--checkpoint", "{ckpt}", "--samples", "256", "--batch-size", "64", "--no-progress", "--seed", "3"]
LANDSCAPE = ["analyze", "landscape", "--kind", "hessian", "--points", "5", "--span", "0.5"]
SPECTRUM = ["analyze", "spectrum", "--top-k", "2", "--probes", "2", "--lanczos-steps", "8", "--trace-matvecs", "12"]

DRIVER = """
import json, sys
import numpy as np
from mathdl.analysis import landscape
from mathdl.curvature import HessianOperator
from mathdl.cli import main
from mathdl.distributed import group

ckpt, out, landscape_args, spectrum_args, common = sys.argv[1], sys.argv[2], *map(json.loads, sys.argv[3:6])
common = [a.replace("{ckpt}", ckpt) for a in common]
counts = {"evals": 0, "products": 0}
evaluate = landscape.evaluate_loss
def counted_eval(*a, **k):
    counts["evals"] += 1
    return evaluate(*a, **k)
landscape.evaluate_loss = counted_eval
product = HessianOperator._batch_product
def counted_product(self, *a, **k):
    counts["products"] += 1
    return product(self, *a, **k)
HessianOperator._batch_product = counted_product
assert main(landscape_args + common + ["--out", out]) == 0
assert main(spectrum_args + common + ["--out", out]) == 0
analyze_products = counts["products"]  # the convexity map's own products are split by points, not halved
from mathdl.analysis.cli import load_checkpoint, _examples, _loss_fn
model, spec, _, _ = load_checkpoint(ckpt)
x, y = _examples(spec, "train", 64, 0)
dirs = landscape.random_directions(model, seed=1)
ratio = landscape.convexity_map(model, (x, y), dirs, landscape.grid(0.5, 3), loss_fn=_loss_fn(spec), tol=1e-6,
                                distributed=True)
from mathdl.analysis.cli import _loader
from mathdl.curvature import GGNOperator
from mathdl.distributed.analysis import ShardedOperator
G = ShardedOperator(GGNOperator(model, _loss_fn(spec), _loader(x, y, 16)))  # 4 batches, 2 per rank
ggn = G.matvec(np.random.default_rng(0).standard_normal(G.num_params)).astype(float)
if group.is_main_process():
    with open(f"{out}/convexity.json", "w") as f:
        json.dump({"ratio": ratio.tolist(), "ggn_product": ggn.tolist()}, f)
counts.update(products=analyze_products, rank=group.get_rank(), world=group.get_world_size(),
              mpi4py="mpi4py" in sys.modules)
with open(f"{out}/counts_{group.get_rank()}.json", "w") as f:
    json.dump(counts, f)
"""


def _leaves(obj, prefix=""):
    """(path, value) of every number and string of a JSON document."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, f"{prefix}/{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _leaves(v, f"{prefix}[{i}]")
    else:
        yield prefix, obj


def _assert_same(a, b, rtol=1e-9):
    la, lb = dict(_leaves(a)), dict(_leaves(b))
    assert la.keys() == lb.keys()
    for k, x in la.items():
        y = lb[k]
        if isinstance(x, (int, float)) and not isinstance(x, bool):
            assert np.isclose(x, y, rtol=rtol, atol=1e-12, equal_nan=True), f"{k}: {x!r} (1 rank) != {y!r} (2 ranks)"
        else:
            assert x == y, f"{k}: {x!r} != {y!r}"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    run = tmp_path_factory.mktemp("analyze_run")
    assert cli.main(["train", "--epochs", "1", "--model-opt", "hidden=8,", "--no-progress", "--no-plot",
                     "--out", str(run)]) == 0
    return run / "checkpoint.safetensors"


def test_sharded_operator_one_process_is_the_operator(checkpoint):
    """In a plain process ShardedOperator (both modes) gives the operator's own products."""
    from mathdl.analysis.cli import _examples, _loader, _loss_fn, load_checkpoint
    from mathdl.analysis.operators import model_hessian
    from mathdl.distributed.analysis import ShardedOperator

    model, spec, _, _ = load_checkpoint(str(checkpoint))
    x, y = _examples(spec, "train", 200, 0)
    H = model_hessian(model, _loss_fn(spec), _loader(x, y, 64))
    assert model_hessian(model, _loss_fn(spec), _loader(x, y, 64), distributed=True).__class__ is type(H)
    v = np.random.default_rng(0).standard_normal(H.num_params)
    ref = H.matvec(v)
    assert np.array_equal(ShardedOperator(H).matvec(v), ref)
    np.testing.assert_allclose(ShardedOperator(H, exact=False).matvec(v), ref, rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="curvature operator"):
        ShardedOperator(lambda v: v)


def test_mpiexec_analyze_matches_one_process(checkpoint, tmp_path, run_mpi):
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    args = [checkpoint, None, json.dumps(LANDSCAPE), json.dumps(SPECTRUM), json.dumps(COMMON)]
    plain = subprocess.run([sys.executable, driver] + [str(a) for a in [args[0], one, *args[2:]]], cwd=ROOT,
                           env=clean_env(), capture_output=True, text=True, timeout=120)
    assert plain.returncode == 0, plain.stderr[-3000:]
    proc = run_mpi([sys.executable, driver, args[0], two, *args[2:]], timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]

    # only rank 0 prints and writes
    assert proc.stdout.count("top eigenvalues:") == 1 and proc.stdout.count("landscape over 25 points") == 1
    assert np.linalg.norm(json.loads((one / "convexity.json").read_text())["ggn_product"]) > 0
    assert sorted(p.name for p in two.iterdir() if not p.name.startswith("counts")) == \
        sorted(p.name for p in one.iterdir() if not p.name.startswith("counts"))

    for name in ("landscape_hessian.json", "spectrum.json", "convexity.json"):
        a, b = (json.loads((d / name).read_text()) for d in (one, two))
        _assert_same(a, b)
    a, b = (json.loads((d / "spectrum.json").read_text()) for d in (one, two))
    top1, top2 = a["top_eigenvalues"][0], b["top_eigenvalues"][0]
    assert abs(top1 - top2) <= 1e-8 * abs(top1)
    assert np.isfinite(top1) and top1 > 0

    # the work was split: each rank evaluated part of the grid and computed part of the products
    c1 = json.loads((one / "counts_0.json").read_text())
    r0, r1 = (json.loads((two / f"counts_{r}.json").read_text()) for r in (0, 1))
    assert c1["world"] == 1 and not c1["mpi4py"], "a plain process must not import mpi4py"
    assert r0["world"] == r1["world"] == 2
    assert r0["evals"] + r1["evals"] == c1["evals"] == 25
    assert 0 < r0["evals"] < c1["evals"] and 0 < r1["evals"] < c1["evals"]
    for r in (r0, r1):  # half the batch products, plus one determinism check per operator on each rank
        assert 0 < r["products"] <= c1["products"] // 2 + 2, (r, c1)
