"""A discrete Bayesian network with exact, differentiable inference by variable elimination.

Variables X_1..X_V with cardinalities d_v and a given DAG (parents pa(v)).  The joint factorizes as

    p(x) = Π_v p(x_v | x_pa(v)),     p(x_v | x_pa(v)) = softmax_{x_v}(theta_v[x_pa(v), :]),

so each conditional probability table (CPT) is a parameter theta_v of shape (d_pa1, ..., d_pak, d_v)
in log space (unnormalized logits; a softmax over the last axis makes every row a distribution).

Evidence, per example n of a batch: hard (x_v = k) or soft — a likelihood vector lambda_v(x_v) > 0
(virtual evidence, Pearl 1988), e.g. a neural network's probabilities over some variable.  With
evidence e the unnormalized posterior is p(x) Π_v lambda_v(x_v), and

    log p(e) = log Σ_x exp( Σ_v log p(x_v | x_pa(v)) + Σ_v log lambda_v(x_v) ),
    log p(x_q | e) = log Σ_{x \\ x_q} exp(...) - log p(e).

Variable elimination computes these sums one variable at a time: a factor is a log-space tensor
of shape (N, d_1, ..., d_V) with size-1 axes for the variables outside its scope; multiplying
factors is adding them (broadcasting), summing a variable out is ``logsumexp`` over its axis.
Every step is a mathdl op, so marginals and conditionals are differentiable with respect to the
CPTs and to the soft evidence, and a network feeding soft evidence trains end to end by maximum
likelihood.  The elimination order is min-degree (fewest variables in the joined factor).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from .. import nn

__all__ = ["DiscreteBayesianNetwork"]

def _f64():
    from .. import float64

    return float64


_NEG = -1e30  # log 0 for hard evidence, finite so that gradients stay NaN-free


class DiscreteBayesianNetwork(nn.Module):
    """``DiscreteBayesianNetwork(cardinalities, parents)``: ``cardinalities`` {name: d},
    ``parents`` {name: [parent names]} (a DAG).  CPT logits are the parameters ``cpt_<name>``."""

    def __init__(self, cardinalities, parents=None):
        super().__init__()
        from .. import zeros

        parents = dict(parents or {})
        card = {}
        for v, d in dict(cardinalities).items():
            if not (isinstance(d, (int, np.integer)) and d >= 1):
                raise ValueError(f"DiscreteBayesianNetwork: cardinality of {v!r} must be a positive integer, got {d!r}")
            card[str(v)] = int(d)
        for v, ps in parents.items():
            if v not in card:
                raise ValueError(f"DiscreteBayesianNetwork: parents given for unknown variable {v!r}")
            for p in ps:
                if p not in card:
                    raise ValueError(f"DiscreteBayesianNetwork: parent {p!r} of {v!r} is not a variable")
        self.variables = list(card)
        self.card = card
        self.parents = {v: [str(p) for p in parents.get(v, [])] for v in self.variables}
        self.order = self._topological_order()
        self.axis = {v: i + 1 for i, v in enumerate(self.variables)}  # axis 0 is the batch
        for v in self.variables:
            shape = tuple(card[p] for p in self.parents[v]) + (card[v],)
            setattr(self, f"cpt_{v}", nn.Parameter(zeros(*shape, dtype=_f64())))

    def _topological_order(self):
        order, seen, stack = [], set(), set()

        def visit(v):
            if v in seen:
                return
            if v in stack:
                raise ValueError(f"DiscreteBayesianNetwork: the parent graph has a cycle through {v!r}")
            stack.add(v)
            for p in self.parents[v]:
                visit(p)
            stack.discard(v)
            seen.add(v)
            order.append(v)

        for v in self.variables:
            visit(v)
        return order

    # ------------------------------------------------------------------ tables
    def cpt_shape(self, v):
        return tuple(self.card[p] for p in self.parents[v]) + (self.card[v],)

    def _check_var(self, v):
        if v not in self.card:
            raise ValueError(f"DiscreteBayesianNetwork: unknown variable {v!r}; variables are {self.variables}")

    def set_cpt(self, v, table):
        """Set p(v | parents) from a probability table of shape (d_parent1, ..., d_v) (rows sum to 1)."""
        self._check_var(v)
        t = np.asarray(table, dtype=np.float64)
        want = self.cpt_shape(v)
        if t.shape != want:
            raise ValueError(f"DiscreteBayesianNetwork: table for {v!r} has shape {t.shape}, but its structure "
                             f"(parents {self.parents[v]}) needs {want}")
        if (t < 0).any() or np.abs(t.sum(-1) - 1).max() > 1e-6:
            raise ValueError(f"DiscreteBayesianNetwork: table for {v!r} must be non-negative with rows summing to 1")
        getattr(self, f"cpt_{v}").array[...] = np.log(np.clip(t, 1e-300, None))

    def cpt(self, v):
        """p(v | parents) as a (d_parent1, ..., d_v) tensor (softmax of the logits)."""
        from .. import softmax

        self._check_var(v)
        return softmax(getattr(self, f"cpt_{v}"), dim=-1)

    def _log_cpt_factor(self, v):
        """log p(x_v | x_pa(v)) broadcast to (1, d_1, ..., d_V) order (size 1 off its scope)."""
        from .. import log_softmax

        logp = log_softmax(getattr(self, f"cpt_{v}"), dim=-1)
        scope = self.parents[v] + [v]
        perm = sorted(range(len(scope)), key=lambda i: self.axis[scope[i]])
        logp = logp.permute(*perm) if perm != list(range(len(scope))) else logp
        shape = [1] * (len(self.variables) + 1)
        for v2 in scope:
            shape[self.axis[v2]] = self.card[v2]
        return logp.reshape(shape), set(scope)

    # ------------------------------------------------------------------ evidence
    def _evidence_factors(self, evidence, soft_evidence):
        """Log-likelihood factors (N, ...) for hard and soft evidence; returns (factors, batch size)."""
        from .. import log, tensor
        from ..autograd.tensor import Tensor

        factors, n = [], None
        for v, val in (evidence or {}).items():
            self._check_var(v)
            idx = np.asarray(val.numpy() if isinstance(val, Tensor) else val).astype(np.int64).reshape(-1)
            if idx.size and (idx.min() < 0 or idx.max() >= self.card[v]):
                raise ValueError(f"DiscreteBayesianNetwork: evidence for {v!r} must be in [0, {self.card[v] - 1}], "
                                 f"got values in [{idx.min()}, {idx.max()}]")
            lam = np.full((idx.size, self.card[v]), _NEG)
            lam[np.arange(idx.size), idx] = 0.0
            factors.append((v, tensor(lam)))
            n = idx.size if n is None else n
            if idx.size != n:
                raise ValueError(f"DiscreteBayesianNetwork: evidence batch sizes differ ({v!r} has {idx.size}, "
                                 f"not {n})")
        for v, lam in (soft_evidence or {}).items():
            self._check_var(v)
            t = lam if isinstance(lam, Tensor) else tensor(np.asarray(lam, dtype=np.float64))
            if t.ndim != 2 or t.shape[1] != self.card[v]:
                raise ValueError(f"DiscreteBayesianNetwork: soft evidence for {v!r} must have shape "
                                 f"(N, {self.card[v]}), got {tuple(t.shape)}")
            n = t.shape[0] if n is None else n
            if t.shape[0] != n:
                raise ValueError(f"DiscreteBayesianNetwork: evidence batch sizes differ ({v!r} has {t.shape[0]}, "
                                 f"not {n})")
            factors.append((v, log(t.double())))
        out = []
        for v, f in factors:
            shape = [f.shape[0]] + [1] * len(self.variables)
            shape[self.axis[v]] = self.card[v]
            out.append((f.reshape(shape), {v}))
        return out, (1 if n is None else n)

    def _log_soft_factors(self, log_soft_evidence):
        from ..autograd.tensor import Tensor

        out = []
        for v, lf in (log_soft_evidence or {}).items():
            self._check_var(v)
            if not isinstance(lf, Tensor) or lf.ndim != 2 or lf.shape[1] != self.card[v]:
                raise ValueError(f"DiscreteBayesianNetwork: log soft evidence for {v!r} must be a (N, {self.card[v]}) "
                                 "tensor")
            shape = [lf.shape[0]] + [1] * len(self.variables)
            shape[self.axis[v]] = self.card[v]
            out.append((lf.double().reshape(shape), {v}))
        return out

    # ------------------------------------------------------------------ inference
    def _eliminate(self, factors, keep):
        """Sum out every variable not in ``keep`` by variable elimination; returns the log factor over
        ``keep`` (other axes size 1)."""
        from .. import logsumexp

        factors = list(factors)
        todo = [v for v in self.variables if v not in keep]
        while todo:
            # min-degree: the variable whose joined factor has the smallest scope
            def degree(v, factors=factors):
                return len(set().union(*[s for _, s in factors if v in s]))
            v = min(todo, key=degree)
            todo.remove(v)
            inv = [(f, s) for f, s in factors if v in s]
            rest = [(f, s) for f, s in factors if v not in s]
            if not inv:
                continue
            joined = inv[0][0]
            for f, _ in inv[1:]:
                joined = joined + f
            scope = set().union(*[s for _, s in inv]) - {v}
            rest.append((logsumexp(joined, dim=self.axis[v], keepdim=True), scope))
            factors = rest
        total = factors[0][0]
        for f, _ in factors[1:]:
            total = total + f
        return total

    def _all_factors(self, evidence, soft_evidence, log_soft_evidence):
        ev, n = self._evidence_factors(evidence, soft_evidence)
        lev = self._log_soft_factors(log_soft_evidence)
        if lev:
            n = lev[0][0].shape[0]
        return [self._log_cpt_factor(v) for v in self.variables] + ev + lev, n

    def log_evidence(self, evidence=None, soft_evidence=None, log_soft_evidence=None):
        """log p(e) per example, shape (N,) (log Σ_x p(x) Π lambda(x) for soft evidence)."""
        from .. import zeros

        factors, n = self._all_factors(evidence, soft_evidence, log_soft_evidence)
        z = self._eliminate(factors, keep=set())
        return z.reshape(-1) + zeros(n, dtype=_f64()) if z.shape[0] != n else z.reshape(n)

    def log_marginal(self, query, evidence=None, soft_evidence=None, log_soft_evidence=None):
        """log p(query | e) per example, shape (N, d_query) (normalized over the query's values)."""
        from .. import logsumexp, zeros

        self._check_var(query)
        factors, n = self._all_factors(evidence, soft_evidence, log_soft_evidence)
        joint = self._eliminate(factors, keep={query})
        joint = joint.reshape(joint.shape[0], self.card[query])
        if joint.shape[0] != n:
            joint = joint + zeros(n, 1, dtype=_f64())
        return joint - logsumexp(joint, dim=1, keepdim=True)

    def marginal(self, query, evidence=None, soft_evidence=None, log_soft_evidence=None):
        """p(query | e), shape (N, d_query)."""
        return self.log_marginal(query, evidence, soft_evidence, log_soft_evidence).exp()

    def log_joint_table(self):
        """The full joint log p(x) as a (d_1, ..., d_V) tensor (brute force; small networks only)."""
        total = None
        for v in self.variables:
            f, _ = self._log_cpt_factor(v)
            total = f if total is None else total + f
        shape = tuple(self.card[v] for v in self.variables)
        return total.reshape(shape) if total.shape[1:] == shape else (total + self._zeros_full()).reshape(shape)

    def _zeros_full(self):
        from .. import zeros

        return zeros(1, *[self.card[v] for v in self.variables], dtype=_f64())

    def enumerate_marginal(self, query, evidence=None, soft_evidence=None):
        """p(query | e) by brute-force enumeration of the joint (NumPy; for checking variable elimination)."""
        self._check_var(query)
        tables = {v: self.cpt(v).detach().numpy() for v in self.variables}
        ev = {k: np.asarray(val).reshape(-1) for k, val in (evidence or {}).items()}
        sev = {k: np.asarray(val.numpy() if hasattr(val, "numpy") else val, np.float64)
               for k, val in (soft_evidence or {}).items()}
        n = next(iter([len(a) for a in list(ev.values()) + list(sev.values())]), 1)
        out = np.zeros((n, self.card[query]))
        for i in range(n):
            for assign in itertools.product(*[range(self.card[v]) for v in self.variables]):
                x = dict(zip(self.variables, assign))
                if any(x[k] != a[i] for k, a in ev.items()):
                    continue
                p = math.prod(tables[v][tuple(x[q] for q in self.parents[v] + [v])] for v in self.variables)
                p *= math.prod(a[i, x[k]] for k, a in sev.items())
                out[i, x[query]] += p
        return out / out.sum(1, keepdims=True)

    def fit_counts(self, data, alpha=1.0):
        """Maximum-likelihood (Laplace-smoothed by ``alpha``) CPTs from complete data {name: ints (N,)}."""
        for v in self.variables:
            if v not in data:
                raise ValueError(f"DiscreteBayesianNetwork.fit_counts: no data for {v!r}")
        for v in self.variables:
            counts = np.full(self.cpt_shape(v), float(alpha))
            idx = tuple(np.asarray(data[q]).astype(np.int64) for q in self.parents[v] + [v])
            np.add.at(counts, idx, 1.0)
            self.set_cpt(v, counts / counts.sum(-1, keepdims=True))
        return self

    def extra_repr(self):
        edges = ", ".join(f"{'+'.join(self.parents[v]) or '∅'}->{v}" for v in self.order)
        return f"cardinalities={self.card}, edges=[{edges}]"
