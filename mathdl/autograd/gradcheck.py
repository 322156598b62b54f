"""Checking derivatives against finite differences.

``gradcheck`` compares the analytic Jacobian (one vjp per output entry) with the central
difference  (f(x + eps e_j) - f(x - eps e_j)) / (2 eps)  column by column, and accepts when
|analytic - numeric| <= atol + rtol |numeric| everywhere.  ``gradgradcheck`` applies the same
test to the map (inputs, v) -> v^T J, i.e. to the backward pass itself, which checks second
derivatives.  Use float64 inputs: float32 rounding swamps the differences.
"""

from __future__ import annotations

import numpy as np

from .functional import _grad_tensors
from .grad_mode import enable_grad, no_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    pass


def _outputs(fn, xs):
    out = fn(*xs)
    return [out] if isinstance(out, Tensor) else list(out)


def _default_eps(dtype):
    """A central-difference step balancing truncation (eps^2) against rounding (u / eps)."""
    return 1e-6 if dtype == np.float64 else (1e-3 if dtype == np.float32 else 1e-2)


def _numeric_jacobian(fn, xs, k, eps):
    x = xs[k]
    if not isinstance(x.array, np.ndarray) or not x.array.flags.writeable:
        x.array = np.array(x.array)  # order "K": x's memory layout kept, so the same road is checked
    if eps is None:
        eps = _default_eps(x.array.dtype)
    arr = x.array
    with no_grad():
        base = _outputs(fn, xs)
        n_out = sum(o.array.size for o in base)
        J = np.zeros((n_out, arr.size))
        # entry j in C order of the logical shape, written in place whatever the strides (a reshape
        # of a channels-last or transposed array would perturb a copy)
        for j, at in enumerate(np.ndindex(*arr.shape)):
            orig = arr[at]
            arr[at] = orig + eps
            hi = float(arr[at])  # the step actually taken, after rounding to x's dtype
            plus = np.concatenate([np.asarray(o.array, dtype=np.float64).ravel() for o in _outputs(fn, xs)])
            arr[at] = orig - eps
            lo = float(arr[at])
            minus = np.concatenate([np.asarray(o.array, dtype=np.float64).ravel() for o in _outputs(fn, xs)])
            arr[at] = orig
            J[:, j] = (plus - minus) / (hi - lo)
    return J


def _analytic_jacobians(fn, xs, diff_idx):
    with enable_grad():
        outs = _outputs(fn, xs)
        n_out = sum(o.array.size for o in outs)
        Js = [np.zeros((n_out, xs[k].array.size)) for k in diff_idx]
        row = 0
        for o in outs:
            if not o.requires_grad:
                row += o.array.size
                continue
            for i in range(o.array.size):
                seed = np.zeros(o.array.size, dtype=o.array.dtype)
                seed[i] = 1
                gs = _grad_tensors(o, [xs[k] for k in diff_idx], Tensor._make(seed.reshape(o.shape)),
                                   retain_graph=True, allow_unused=True)[0]
                for J, g in zip(Js, gs):
                    if g is not None:
                        J[row + i] = np.asarray(g.array, dtype=np.float64).ravel()
            row += o.array.size
    return Js


def gradcheck(fn, inputs, eps=None, atol=1e-5, rtol=1e-3, raise_exception=True, name=None):
    """Check first derivatives of ``fn`` at ``inputs`` (tensors; those with requires_grad are
    differentiated; other arguments are passed through).  ``eps`` is the finite-difference step
    (default 1e-6 for float64, 1e-3 for float32).  Returns True, or raises GradcheckError
    showing both Jacobians (``raise_exception=False``: returns False instead)."""
    xs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    diff_idx = [k for k, x in enumerate(xs) if isinstance(x, Tensor) and x.requires_grad]
    if not diff_idx:
        raise ValueError("gradcheck: no input requires grad")
    for k in diff_idx:
        if xs[k].dtype != np.float64:
            import warnings

            warnings.warn(f"gradcheck: input {k} is {xs[k].dtype}; use float64 for a reliable check",
                          stacklevel=2)
    analytic = _analytic_jacobians(fn, xs, diff_idx)
    label = name or getattr(fn, "__name__", "fn")
    for J, k in zip(analytic, diff_idx):
        N = _numeric_jacobian(fn, xs, k, eps)
        if N.shape != J.shape:
            raise GradcheckError(f"{label}: Jacobian shapes differ for input {k}: {J.shape} vs {N.shape}")
        bad = np.abs(J - N) > atol + rtol * np.abs(N)
        if bad.any():
            if not raise_exception:
                return False
            r, c = np.argwhere(bad)[0]
            with np.printoptions(precision=6, suppress=True, threshold=400):
                msg = (
                    f"{label}: analytic and numeric Jacobians differ for input {k} "
                    f"(shape {tuple(xs[k].shape)}); first mismatch at output {r}, input entry {c}: "
                    f"analytic {J[r, c]:.8g}, numeric {N[r, c]:.8g}; max abs diff "
                    f"{np.abs(J - N).max():.3g}\nanalytic:\n{J}\nnumeric:\n{N}"
                )
            raise GradcheckError(msg)
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, eps=None, atol=1e-5, rtol=1e-3,
                  raise_exception=True, seed=0, name=None):
    """Check second derivatives: gradcheck of (inputs..., v) -> v^T J_fn(inputs), i.e. of the
    backward pass itself, with a random cotangent v per floating output (or ``grad_outputs``).
    This finds backward formulas that are wrong to differentiate; a wrong first derivative is
    ``gradcheck``'s to find."""
    xs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    diff_idx = [k for k, x in enumerate(xs) if isinstance(x, Tensor) and x.requires_grad]
    if not diff_idx:
        raise ValueError("gradgradcheck: no input requires grad")
    with no_grad():
        outs = _outputs(fn, xs)
    # only floating outputs carry gradients (integer results such as indices are skipped)
    keep = [j for j, o in enumerate(outs) if o.dtype.kind == "f" or o.dtype.name == "bfloat16"]
    rng = np.random.default_rng(seed)
    if grad_outputs is None:
        vs = [Tensor._make(rng.standard_normal(outs[j].shape).astype(outs[j].dtype)).requires_grad_(True)
              for j in keep]
    else:
        vs = [grad_outputs] if isinstance(grad_outputs, Tensor) else list(grad_outputs)
        if len(vs) != len(keep):
            raise ValueError(f"gradgradcheck: {len(keep)} floating outputs but {len(vs)} grad_outputs")
    n = len(xs)

    def first_derivative(*args):
        inner = list(args[:n])
        v = list(args[n:])
        with enable_grad():
            o = _outputs(fn, inner)
            pairs = [(o[j], vj) for j, vj in zip(keep, v) if o[j].requires_grad]
            if not pairs:
                raise GradcheckError("gradgradcheck: no output of fn depends on its differentiable inputs")
            gs = _grad_tensors([p[0] for p in pairs], [inner[k] for k in diff_idx], [p[1] for p in pairs],
                               create_graph=True, allow_unused=True)[0]
        res = [g for g in gs if g is not None]
        if not res:
            raise GradcheckError("gradgradcheck: fn has no gradient with respect to its inputs")
        return res

    label = (name or getattr(fn, "__name__", "fn")) + " (second order)"
    return gradcheck(first_derivative, xs + vs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, name=label)
