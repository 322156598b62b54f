"""The special-function table (the format of tests/ops/op_table.py): one row per function of
``mathdl.special`` drives gradcheck, gradgradcheck (float64) and parity with ``torch.special``
(values, and gradients where torch has them: ``torch_grad``).  ``const`` lists argument positions
that are constants (no gradient: the ``a`` of gammainc, the ``s`` of zeta)."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import mathdl.special as ms


@dataclass
class Sample:
    args: tuple
    kwargs: dict = field(default_factory=dict)

    def __repr__(self):
        return f"Sample(shapes={[getattr(a, 'shape', a) for a in self.args]}, kwargs={self.kwargs})"


@dataclass
class OpInfo:
    name: str
    fn: Callable
    torch_fn: Callable | None
    samples: Callable
    grad: bool = True
    gradgrad: bool = True
    torch_grad: bool = True
    const: tuple = ()
    rtol32: float = 1e-4
    atol32: float = 1e-5


def _torch():
    import torch

    return torch


def ts(name):
    """torch.special.<name>, resolved lazily."""
    return lambda *a, **k: getattr(_torch().special, name)(*a, **k)


def rn(rng, *shape):
    return np.asarray(rng.standard_normal(shape))


def uni(lo, hi):
    return lambda rng, *shape: np.asarray(rng.uniform(lo, hi, shape))


def unary(maker, shapes=((3,), (2, 3)), **kw):
    return lambda rng: [Sample((maker(rng, *s),), dict(kw)) for s in shapes]


OPS: list[OpInfo] = []


def op(name, make, fn=None, torch_fn=None, **kw):
    OPS.append(OpInfo(name, fn or getattr(ms, name), torch_fn or ts(name), make, **kw))


pos = uni(0.3, 4.0)
op("gammaln", unary(pos))
op("digamma", unary(pos))
op("psi", unary(pos))
op("polygamma", lambda rng: [Sample((1, pos(rng, 3))), Sample((3, pos(rng, 2, 2)))])
op("multigammaln", lambda rng: [Sample((uni(1.6, 4.0)(rng, 3),), {"p": 3})])
op("erf", unary(rn))
op("erfc", unary(rn))
op("erfcx", unary(uni(-1.5, 3.0)))
op("erfinv", unary(uni(-0.9, 0.9)))
op("expit", unary(rn))
op("logit", lambda rng: [Sample((uni(0.1, 0.9)(rng, 3),)), Sample((uni(0.1, 0.9)(rng, 2, 2),), {"eps": 0.05})])
op("xlogy", lambda rng: [Sample((rn(rng, 2, 3), pos(rng, 2, 3))), Sample((rn(rng, 3), pos(rng, 2, 1))),
                         Sample((np.array([0.0, 1.5]), pos(rng, 2)))])
op("xlog1py", lambda rng: [Sample((rn(rng, 2, 3), pos(rng, 2, 3))), Sample((np.array([0.0, -0.5]), pos(rng, 2)))])
op("i0", unary(rn))
op("i0e", unary(uni(0.2, 2.0)))
op("i1", unary(rn))
op("i1e", unary(uni(0.2, 2.0)))
op("ndtr", unary(rn))
op("ndtri", unary(uni(0.05, 0.95)))
op("log_ndtr", lambda rng: [Sample((rn(rng, 3),)), Sample((np.array([-12.0, -5.0, 4.0]),))])
op("log1p", unary(pos))
op("expm1", unary(rn))
op("exp2", unary(rn))
op("sinc", unary(uni(0.1, 2.0)))
op("entr", unary(pos))
op("gammainc", lambda rng: [Sample((pos(rng, 3), pos(rng, 3))), Sample((pos(rng, 2, 1), pos(rng, 3)))], const=(0,))
op("gammaincc", lambda rng: [Sample((pos(rng, 3), pos(rng, 3)))], const=(0,))
op("zeta", lambda rng: [Sample((uni(2.0, 4.0)(rng, 3), pos(rng, 3)))], const=(0,), torch_grad=False)
op("bessel_j0", unary(rn), torch_grad=False)
op("bessel_j1", unary(rn), torch_grad=False)
op("bessel_y0", unary(pos), torch_grad=False)
op("bessel_y1", unary(pos), torch_grad=False)
op("modified_bessel_i0", unary(rn), torch_grad=False)
op("modified_bessel_i1", unary(rn), torch_grad=False)
op("modified_bessel_k0", unary(pos), torch_grad=False)
op("modified_bessel_k1", unary(pos), torch_grad=False)
op("scaled_modified_bessel_k0", unary(pos), torch_grad=False)
op("scaled_modified_bessel_k1", unary(pos), torch_grad=False)
op("spherical_bessel_j0", unary(uni(0.2, 4.0)), torch_grad=False)
op("airy_ai", unary(rn), torch_grad=False)
op("softmax", unary(rn, dim=-1))
op("log_softmax", unary(rn, ((2, 3),), dim=0))
op("logsumexp", unary(rn, ((2, 3),), dim=1))
op("round", lambda rng: [Sample((rn(rng, 3) * 10,)), Sample((rn(rng, 3) * 10,), {"decimals": 1})], gradgrad=False)
for _poly in ("chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v", "chebyshev_polynomial_w",
              "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
              "shifted_chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he",
              "legendre_polynomial_p", "laguerre_polynomial_l"):
    op(_poly, lambda rng: [Sample((uni(-0.9, 0.9)(rng, 3), 0)), Sample((uni(-0.9, 0.9)(rng, 3), 1)),
                           Sample((uni(-0.9, 0.9)(rng, 2, 2), 4))], torch_grad=False)


def op_samples(o):
    return o.samples(np.random.default_rng(zlib.crc32(o.name.encode())))


def cases(ops):
    out, ids = [], []
    for o in ops:
        for i, s in enumerate(op_samples(o)):
            out.append((o, s))
            ids.append(f"{o.name}-{i}")
    return out, ids
