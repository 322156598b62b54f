"""L-BFGS (Nocedal 1980; Liu & Nocedal 1989) with PyTorch's ``torch.optim.LBFGS`` semantics.

The direction is d = -H_k g, where H_k approximates the inverse Hessian from the last m pairs
s_i = theta_{i+1} - theta_i, y_i = g_{i+1} - g_i (kept only if y_i^T s_i > 1e-10), applied by
the two-loop recursion:

    q = -g;  for i = k-1..k-m:  a_i = rho_i s_i^T q,  q -= a_i y_i        (rho_i = 1 / y_i^T s_i)
    r = gamma q,   gamma = s^T y / y^T y (latest pair)
    for i = k-m..k-1:  b = rho_i y_i^T r,  r += (a_i - b) s_i;          d = r

The step length is ``lr`` (the first iteration ``min(1, 1/||g||_1) * lr``) or, with
``line_search_fn="strong_wolfe"``, the strong-Wolfe search of Nocedal & Wright (Alg. 3.5 bracketing
and Alg. 3.6 zoom, cubic interpolation; c1 = 1e-4, c2 = 0.9):

    f(theta + t d) <= f + c1 t g^T d,     |g(theta + t d)^T d| <= c2 |g^T d|.

``step(closure)`` runs up to ``max_iter`` iterations (``max_eval`` loss evaluations) and stops when
max|g| <= ``tolerance_grad``, or the step or the loss changes by less than ``tolerance_change``.
The closure re-evaluates the model: zero the gradients, compute the loss, ``backward()``, return it.

Unlike PyTorch, a non-finite loss is an error: the parameters are restored to their values before
the failed iteration and the message names the iteration and the step length.
"""

from __future__ import annotations

import copy
import math

import numpy as np

from .. import backend
from ..autograd.grad_mode import enable_grad, no_grad
from ..autograd.tensor import Tensor
from .optimizer import Optimizer

__all__ = ["LBFGS"]


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimizer of the cubic through (x1, f1, g1), (x2, f2, g2), clipped to ``bounds``."""
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square >= 0:
        d2 = math.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


def _strong_wolfe(obj_func, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """Nocedal & Wright Alg. 3.5 (bracket) + 3.6 (zoom); returns (f_new, g_new, t, evaluations)."""
    xp = backend.xp_of(d)
    d_norm = xp.abs(d).max()
    g = g.copy()
    f_new, g_new = obj_func(x, t, d)
    ls_func_evals = 1
    gtd_new = g_new.dot(d)

    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        tmp = t
        t = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new.copy(), gtd_new
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1

    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]

    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1])
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                if abs(t - max(bracket)) < abs(t - min(bracket)):
                    t = max(bracket) - eps
                else:
                    t = min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new.copy(), gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos], bracket_gtd[high_pos] = bracket_g[low_pos], bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos] = t, f_new
            bracket_g[low_pos], bracket_gtd[low_pos] = g_new.copy(), gtd_new

    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals


def closure_loss(closure, who):
    """Run ``closure`` with grad enabled and return its loss as a float (errors for bad closures)."""
    if closure is None:
        raise RuntimeError(f"{who}.step requires a closure that re-evaluates the model and returns the loss")
    with enable_grad():
        out = closure()
    if isinstance(out, Tensor):
        if out.array.size != 1:
            raise ValueError(f"{who}: the closure must return a scalar loss, got a tensor of shape {tuple(out.shape)}")
        return out, float(out.item())
    if isinstance(out, (int, float, np.floating, np.integer)) and not isinstance(out, bool):
        return out, float(out)
    raise ValueError(f"{who}: the closure must return a scalar loss, got {type(out).__name__}")


class LBFGS(Optimizer):
    """``LBFGS(params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
    history_size=100, line_search_fn=None)``; one parameter group; ``step(closure)``."""

    needs_closure = True

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
                 history_size=100, line_search_fn=None):
        if not (isinstance(lr, (int, float)) and lr >= 0):
            raise ValueError(f"LBFGS: invalid learning rate {lr!r}; expected a float >= 0")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: line_search_fn must be None or 'strong_wolfe', got {line_search_fn!r}")
        if int(max_iter) < 1 or int(history_size) < 1:
            raise ValueError(f"LBFGS: max_iter and history_size must be >= 1, got {max_iter}, {history_size}")
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                        tolerance_change=tolerance_change, history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]
        self._numel_cache = None

    # ------------------------------------------------------------------ flat views
    def _numel(self):
        if self._numel_cache is None:
            self._numel_cache = sum(p.array.size for p in self._params)
        return self._numel_cache

    def _gather_flat_grad(self):
        xp = backend.xp_of(self._params[0].array)
        return xp.concatenate([(p.grad.array if p.grad is not None else xp.zeros_like(p.array)).reshape(-1)
                               for p in self._params])

    def _add_grad(self, step_size, update):
        offset = 0
        for p in self._params:
            n = p.array.size
            p.array += (step_size * update[offset:offset + n]).reshape(p.array.shape).astype(p.array.dtype, copy=False)
            p._version += 1
            offset += n

    def _clone_param(self):
        return [p.array.copy() for p in self._params]

    def _set_param(self, params_data):
        for p, pdata in zip(self._params, params_data):
            p.array[...] = pdata
            p._version += 1

    def _evaluate(self, closure, what):
        loss, value = closure_loss(closure, "LBFGS")
        if not math.isfinite(value):
            raise FloatingPointError(f"LBFGS: the loss is {value} at {what}")
        return loss, value

    def _directional_evaluate(self, closure, x, t, d, n_iter):
        self._add_grad(t, d)
        try:
            _, loss = self._evaluate(closure, f"iteration {n_iter}, line-search step t={float(t):.6g}")
        except FloatingPointError as e:
            self._set_param(x)
            raise RuntimeError(f"{e}; parameters restored to their values before the iteration") from None
        flat_grad = self._gather_flat_grad()
        self._set_param(x)
        return loss, flat_grad

    # ------------------------------------------------------------------ step
    @no_grad()
    def step(self, closure=None):
        """Up to ``max_iter`` L-BFGS iterations; returns the loss from the first closure call."""
        group = self.param_groups[0]
        lr = group["lr"]
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]

        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        try:
            orig_loss, loss = self._evaluate(closure, "the initial evaluation (parameters unchanged)")
        except FloatingPointError as e:
            raise RuntimeError(str(e)) from None
        current_evals = 1
        state["func_evals"] += 1

        xp = backend.xp_of(self._params[0].array)
        flat_grad = self._gather_flat_grad()
        if xp.abs(flat_grad).max() <= tolerance_grad:
            return orig_loss

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        H_diag = state.get("H_diag")
        prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = y.dot(s)
                if ys > 1e-10:
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / y.dot(y)
                num_old = len(old_dirs)
                if "al" not in state:
                    state["al"] = [None] * history_size
                al = state["al"]
                q = -flat_grad
                for i in range(num_old - 1, -1, -1):
                    al[i] = old_stps[i].dot(q) * ro[i]
                    q += -al[i] * old_dirs[i]
                d = r = q * H_diag
                for i in range(num_old):
                    be_i = old_dirs[i].dot(r) * ro[i]
                    r += (al[i] - be_i) * old_stps[i]

            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.copy()
            else:
                prev_flat_grad[...] = flat_grad
            prev_loss = loss

            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / xp.abs(flat_grad).sum()) * lr
            else:
                t = lr

            gtd = flat_grad.dot(d)
            if gtd > -tolerance_change:
                break

            ls_func_evals = 0
            if line_search_fn is not None:
                x_init = self._clone_param()

                def obj_func(x, t, d, n_iter=state["n_iter"]):
                    return self._directional_evaluate(closure, x, t, d, n_iter)

                loss, flat_grad, t, ls_func_evals = _strong_wolfe(obj_func, x_init, t, d, loss, flat_grad, gtd,
                                                                  max_ls=max_eval - current_evals)
                self._add_grad(t, d)
                opt_cond = xp.abs(flat_grad).max() <= tolerance_grad
            else:
                x_prev = self._clone_param()
                self._add_grad(t, d)
                if n_iter != max_iter:
                    try:
                        _, loss = self._evaluate(closure, f"iteration {state['n_iter']}, step t={float(t):.6g}")
                    except FloatingPointError as e:
                        self._set_param(x_prev)
                        raise RuntimeError(f"{e}; parameters restored to their values before the iteration") from None
                    flat_grad = self._gather_flat_grad()
                    opt_cond = xp.abs(flat_grad).max() <= tolerance_grad
                    ls_func_evals = 1

            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            if n_iter == max_iter:
                break
            if current_evals >= max_eval:
                break
            if opt_cond:
                break
            if xp.abs(d * t).max() <= tolerance_change:
                break
            if abs(loss - prev_loss) < tolerance_change:
                break

        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=H_diag,
                     prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return orig_loss

    # ------------------------------------------------------------------ state dicts
    def state_dict(self):
        """As ``Optimizer.state_dict``; the global L-BFGS state (history, direction) sits under
        parameter 0, deep-copied."""
        sd = super().state_dict()
        sd["state"] = copy.deepcopy({k: dict(v) for k, v in sd["state"].items()})
        return sd

    def load_state_dict(self, state_dict):
        own = copy.deepcopy(state_dict["state"])
        super().load_state_dict({"state": {}, "param_groups": state_dict["param_groups"]})
        self._params = self.param_groups[0]["params"]
        for k, v in own.items():
            self.state[self._params[int(k)]] = dict(v)


try:  # registered for ``mathdl train --optimizer lbfgs``
    from .registry import register_optimizer

    @register_optimizer("lbfgs", default_lr=1.0)
    def _build_lbfgs(model, cfg):
        """L-BFGS (strong-Wolfe line search by default)"""
        opts = dict(cfg.get("optimizer_options") or {})
        opts.setdefault("line_search_fn", "strong_wolfe")
        if opts["line_search_fn"] in ("none", "None", ""):
            opts["line_search_fn"] = None
        return LBFGS(model.parameters(), lr=cfg.get("lr") or 1.0, **opts)
except ImportError:  # pragma: no cover
    pass
