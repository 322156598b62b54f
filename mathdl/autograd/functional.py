"""Derivatives as functions (none of these write into ``.grad``).

  grad(outputs, inputs, v)   = v^T d outputs / d inputs           (reverse mode)
  vjp(f, x, v)               = (f(x), v^T J_f(x))
  jvp(f, x, u)               = (f(x), J_f(x) u)   by the double-vjp trick:
                               J u = d/dv [ v^T J u ] computed as the vjp of v -> v^T J
  hvp(f, x, u)               = (f(x), H_f(x) u)   reverse-over-reverse: grad of <grad f, u>
  jacobian(f, x)             rows  d f_i / d x   (one vjp per output entry)
  hessian(f, x)              jacobian of the gradient
  grad(fn, argnums=0)        JAX-style: returns a function computing d fn / d args[argnums]
"""

from __future__ import annotations


from . import engine
from .grad_mode import enable_grad
from .tensor import Tensor


def _as_list(x):
    if isinstance(x, Tensor):
        return [x], True
    return list(x), False


def _grad_tensors(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
                  allow_unused=False):
    outs, _ = _as_list(outputs)
    ins, single = _as_list(inputs)
    if grad_outputs is None:
        gos = [None] * len(outs)
    else:
        gos, _ = _as_list(grad_outputs)
        if len(gos) != len(outs):
            raise ValueError(f"grad: {len(outs)} outputs but {len(gos)} grad_outputs")
    seeds = [engine._seed(y, g) for y, g in zip(outs, gos)]
    if retain_graph is None:
        retain_graph = create_graph
    res = engine.run(outs, seeds, retain_graph, create_graph, inputs=ins, allow_unused=allow_unused)
    return res, single


def grad(outputs, inputs=None, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False, *, argnums=0, has_aux=False):
    """Gradients of ``outputs`` with respect to ``inputs`` (PyTorch's ``autograd.grad``).

    Called with a function instead of tensors, returns the JAX-style gradient function:
    ``grad(f)(x)`` is df/dx for a scalar-valued ``f``; ``argnums`` picks the argument(s).
    """
    if callable(outputs) and not isinstance(outputs, Tensor):
        return _grad_fn(outputs, argnums=argnums, has_aux=has_aux)
    if inputs is None:
        raise TypeError("grad: inputs are required when outputs are tensors")
    res, single = _grad_tensors(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused)
    return tuple(res)


def _grad_fn(fn, argnums=0, has_aux=False):
    def gradient(*args, **kwargs):
        nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
        args = list(args)
        for i in nums:
            a = args[i]
            if not isinstance(a, Tensor):
                raise TypeError(f"grad: argument {i} must be a Tensor, got {type(a).__name__}")
            args[i] = a.detach().requires_grad_(True)
        with enable_grad():
            out = fn(*args, **kwargs)
            aux = None
            if has_aux:
                out, aux = out
            if not isinstance(out, Tensor) or out.data.size != 1:
                raise TypeError("grad(fn): fn must return a scalar tensor")
            res, _ = _grad_tensors(out, [args[i] for i in nums], create_graph=_create_graph_outer(),
                                   allow_unused=True)
        res = [r if r is not None else _zeros_like(args[i]) for r, i in zip(res, nums)]
        g = res[0] if isinstance(argnums, int) else tuple(res)
        return (g, aux) if has_aux else g

    return gradient


def _create_graph_outer():
    # nested grad(grad(f)) needs the inner derivative recorded; record whenever the caller records
    from .grad_mode import state

    return state.enabled


def _zeros_like(x):
    from ..backend import xp_of

    return Tensor._make(xp_of(x.data).zeros_like(x.data))


def _prep(inputs):
    ins, single = _as_list(inputs)
    return [x.detach().requires_grad_(True) for x in ins], single


def vjp(func, inputs, v=None, create_graph=False):
    """(func(inputs), v^T J).  ``v`` defaults to 1 for a scalar output."""
    xs, single = _prep(inputs)
    with enable_grad():
        out = func(*xs)
        outs, _ = _as_list(out)
        res, _ = _grad_tensors(outs, xs, v, create_graph=create_graph, allow_unused=True)
    res = [r if r is not None else _zeros_like(x) for r, x in zip(res, xs)]
    if not create_graph:
        out = out.detach() if isinstance(out, Tensor) else tuple(o.detach() for o in out)
    return out, (res[0] if single else tuple(res))


def jvp(func, inputs, v=None, create_graph=False):
    """(func(inputs), J v) by differentiating the vjp with respect to its cotangent."""
    xs, single = _prep(inputs)
    vs, _ = _as_list(v) if v is not None else ([None], True)
    with enable_grad():
        out = func(*xs)
        outs, out_single = _as_list(out)
        us = [Tensor._make(o.data * 0).requires_grad_(True) for o in outs]
        g = _grad_tensors(outs, xs, us, create_graph=True, allow_unused=True)[0]
        pairs = [(gi, vi) for gi, vi in zip(g, vs if v is not None else [None] * len(xs)) if gi is not None]
        if v is None:
            if any(x.data.size != 1 for x in xs):
                raise ValueError("jvp: v is required unless the inputs are scalars")
            vs = [Tensor._make(x.data * 0 + 1) for x in xs]
            pairs = [(gi, vi) for gi, vi in zip(g, vs) if gi is not None]
        jv = _grad_tensors([p[0] for p in pairs], us, [p[1] for p in pairs],
                           create_graph=create_graph, allow_unused=True)[0]
    jv = [r if r is not None else _zeros_like(o) for r, o in zip(jv, outs)]
    out = out if create_graph else (out.detach() if isinstance(out, Tensor) else tuple(o.detach() for o in out))
    return out, (jv[0] if out_single else tuple(jv))


def hvp(func, inputs, v, create_graph=False):
    """(func(inputs), H v) for scalar ``func``: reverse-over-reverse, grad of <grad f, v>."""
    xs, single = _prep(inputs)
    vs, _ = _as_list(v)
    with enable_grad():
        out = func(*xs)
        if out.data.size != 1:
            raise ValueError(f"hvp: func must return a scalar, got shape {tuple(out.shape)}")
        g = _grad_tensors(out, xs, create_graph=True, allow_unused=True)[0]
        pairs = [(gi, vi) for gi, vi in zip(g, vs) if gi is not None and gi.requires_grad]
        if pairs:
            hv = _grad_tensors([p[0] for p in pairs], xs, [p[1] for p in pairs],
                               create_graph=create_graph, allow_unused=True)[0]
        else:
            hv = [None] * len(xs)
    hv = [r if r is not None else _zeros_like(x) for r, x in zip(hv, xs)]
    return (out if create_graph else out.detach()), (hv[0] if single else tuple(hv))


def jacobian(func, inputs, create_graph=False):
    """d func / d inputs as a tensor of shape out.shape + in.shape (tuples for several)."""
    from ..ops import reshape, stack

    xs, single = _prep(inputs)
    with enable_grad():
        out = func(*xs)
        outs, out_single = _as_list(out)
        result = []
        for o in outs:
            flat = reshape(o, (-1,))
            rows = [[] for _ in xs]
            for i in range(flat.shape[0]):
                g = _grad_tensors(flat[i], xs, retain_graph=True, create_graph=create_graph,
                                  allow_unused=True)[0]
                for k, (gi, x) in enumerate(zip(g, xs)):
                    rows[k].append(gi if gi is not None else _zeros_like(x))
            per_in = []
            for k, x in enumerate(xs):
                if rows[k]:
                    J = reshape(stack(rows[k]), o.shape + x.shape)
                else:
                    J = Tensor._make(x.data.reshape((0,) + x.shape)[:0].reshape(o.shape + x.shape))
                per_in.append(J)
            result.append(per_in[0] if single else tuple(per_in))
    return result[0] if out_single else tuple(result)


def hessian(func, inputs, create_graph=False):
    """Second derivatives of a scalar ``func``: shape in.shape + in.shape."""
    xs, single = _prep(inputs)

    def gradient(*args):
        with enable_grad():
            out = func(*args)
            g = _grad_tensors(out, list(args), create_graph=True, allow_unused=True)[0]
        g = [gi if gi is not None else _zeros_like(a).requires_grad_(True) for gi, a in zip(g, args)]
        return g[0] if single else tuple(g)

    H = jacobian(gradient, xs[0] if single else tuple(xs), create_graph=create_graph)
    return H


__all__ = ["grad", "vjp", "jvp", "hvp", "jacobian", "hessian"]
