"""How much of PyTorch's everyday surface ``import mathdl`` reaches (aim: >= 90% per namespace).

Prints the coverage and the missing names; fails if a namespace drops below its floor, so a
regression (a name removed) is caught.
"""

from __future__ import annotations

import importlib

import pytest

import mathdl as md

from . import everyday_names as N

NAMESPACES = {
    "mathdl": (md, N.TOP),
    "Tensor": (md.Tensor, N.TENSOR),
    "nn": ("nn", N.NN),
    "nn.functional": ("nn.functional", N.FUNCTIONAL),
    "nn.init": ("nn.init", N.INIT),
    "optim": ("optim", N.OPTIM),
    "optim.lr_scheduler": ("optim.lr_scheduler", N.LR_SCHEDULER),
    "linalg": ("linalg", N.LINALG),
    "special": ("special", N.SPECIAL),
    "autograd": ("autograd", N.AUTOGRAD),
    "autograd.functional": ("autograd.functional", N.AUTOGRAD_FUNCTIONAL),
    "utils.data": ("utils.data", N.DATA),
    "distributions": ("distributions", N.DISTRIBUTIONS),
}

FLOOR = 0.9


def _resolve(obj):
    if not isinstance(obj, str):
        return obj
    target = md
    for part in obj.split("."):  # attribute access only, as a user would write md.nn.functional.relu
        target = getattr(target, part)
    return target


def coverage():
    rows = {}
    for name, (obj, names) in NAMESPACES.items():
        target = _resolve(obj)
        missing = [n for n in names if not hasattr(target, n)]
        rows[name] = (1 - len(missing) / len(names), len(names), missing)
    return rows


@pytest.mark.parametrize("namespace", list(NAMESPACES))
def test_namespace_reaches_floor(namespace):
    frac, total, missing = coverage()[namespace]
    print(f"{namespace}: {frac:.0%} of {total}; missing: {' '.join(missing)}")
    assert frac >= FLOOR, f"{namespace}: {frac:.0%} of {total} everyday names; missing: {', '.join(missing)}"


def test_subpackages_reachable_after_plain_import():
    for sub in ("nn", "optim", "data", "linalg", "special", "autograd", "distributions", "utils", "amp",
                "metrics", "curvature", "compress", "bayes", "flows", "physics", "analysis", "distributed", "cuda"):
        assert getattr(md, sub) is importlib.import_module(f"mathdl.{sub}")


if __name__ == "__main__":  # python -m tests.api.test_everyday_names: the table
    total_have = total_all = 0
    for name, (frac, total, missing) in coverage().items():
        total_have += round(frac * total)
        total_all += total
        print(f"{name:<20} {frac:6.1%} of {total:3d}   missing: {' '.join(missing)}")
    print(f"{'all':<20} {total_have / total_all:6.1%} of {total_all}")
