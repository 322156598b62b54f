"""Derivatives as functions (none of these write into ``.grad``).

  grad(outputs, inputs, v)   = v^T d outputs / d inputs           (reverse mode)
  vjp(f, x, v)               = (f(x), v^T J_f(x))
  jvp(f, x, u)               = (f(x), J_f(x) u)   by the double-vjp trick: v^T J is linear in
                               v, so J u = d/dv <v^T J, u>  (a vjp of the vjp, at v = 0)
  hvp(f, x, u)               = (f(x), H_f(x) u)   reverse-over-reverse: d/dx <grad f(x), u>
  jacobian(f, x)             J[i..., j...] = d f_i / d x_j  (one vjp per output entry),
                             shape f(x).shape + x.shape
  hessian(f, x)              H = jacobian(grad f)(x), shape x.shape + x.shape
  grad(fn, argnums=0)        JAX-style: returns the function x -> d fn / d args[argnums]

The transformations call ``func`` on fresh leaves (detached copies of the inputs), so nothing
reaches the caller's tensors' ``.grad``.  With ``create_graph=True`` an input that already
requires grad is used as it is, so the result stays differentiable with respect to it (what
grad-of-hvp and nested derivatives need), as in ``torch.autograd.functional``.
"""

from __future__ import annotations

from ..backend import xp_of
from . import engine
from .grad_mode import enable_grad
from .grad_mode import state as _grad_state
from .tensor import Tensor


def _as_list(x):
    if isinstance(x, Tensor):
        return [x], True
    return list(x), False


def _grad_tensors(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
                  allow_unused=False):
    """engine.run with seeds made from ``grad_outputs`` (ones for scalar outputs)."""
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


def _zeros_like(x):
    return Tensor._make(xp_of(x.array).zeros_like(x.array))


def _vjp_or_zeros(outs, xs, cotangents, retain_graph=None, create_graph=False):
    """v^T d outs / d xs with zeros where an input is unreached (outputs that do not require
    grad contribute nothing)."""
    pairs = [(o, v) for o, v in zip(outs, cotangents) if o.requires_grad]
    if pairs:
        res = _grad_tensors([p[0] for p in pairs], xs, [p[1] for p in pairs], retain_graph=retain_graph,
                            create_graph=create_graph, allow_unused=True)[0]
    else:
        res = [None] * len(xs)
    return [r if r is not None else _zeros_like(x) for r, x in zip(res, xs)]


# --------------------------------------------------------------------------- grad
def grad(outputs, inputs=None, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False, *, argnums=0, has_aux=False, only_inputs=True):
    """Gradients of ``outputs`` with respect to ``inputs`` (PyTorch's ``autograd.grad``):
    a tuple with v^T d outputs / d inputs[k] for each k, ``v`` = ``grad_outputs`` (ones for a
    scalar output).  Unused inputs raise unless ``allow_unused`` (then their entry is None).
    ``only_inputs`` is accepted and ignored, as in PyTorch (deprecated there, without effect).

    Called with a function instead of tensors, returns the JAX-style gradient function:
    ``grad(f)(x)`` is df/dx for a scalar-valued ``f``; ``argnums`` (an int or a tuple) picks the
    argument(s); ``has_aux`` means ``f`` returns ``(value, aux)`` and the result is ``(g, aux)``.
    Such functions nest: ``grad(grad(f))`` is the second derivative.  An argument that already
    requires grad (an enclosing ``grad``/``hessian``, or a user's graph) is differentiated through,
    and the result is recorded against it; otherwise the result is a plain (detached) tensor.
    """
    if callable(outputs) and not isinstance(outputs, Tensor):
        return _grad_fn(outputs, argnums=argnums, has_aux=has_aux)
    if inputs is None:
        raise TypeError("grad: inputs are required when outputs are tensors")
    res, _ = _grad_tensors(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused)
    return tuple(res)


def _grad_fn(fn, argnums=0, has_aux=False):
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)

    def gradient(*args, **kwargs):
        args = list(args)
        # An argument that already requires grad belongs to an enclosing differentiation
        # (grad(grad(f)), or a user's graph): differentiate through it and record the result.
        nested = False
        for i in nums:
            a = args[i]
            if not isinstance(a, Tensor):
                raise TypeError(f"grad(fn): argument {i} must be a Tensor, got {type(a).__name__}")
            if a.requires_grad and _grad_state.enabled:
                nested = True
            else:
                args[i] = _fresh_leaf(a, "grad(fn)", i)
        with enable_grad():
            out = fn(*args, **kwargs)
            aux = None
            if has_aux:
                if not (isinstance(out, tuple) and len(out) == 2):
                    raise TypeError("grad(fn, has_aux=True): fn must return a pair (value, aux)")
                out, aux = out
            if not isinstance(out, Tensor) or out.array.size != 1:
                shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
                raise TypeError(f"grad(fn): fn must return a scalar (one-element) tensor, got {shape}")
            res = _vjp_or_zeros([out], [args[i] for i in nums], [None], create_graph=nested)
        if not nested:
            res = [r.detach() for r in res]
        g = res[0] if isinstance(argnums, int) else tuple(res)
        return (g, aux) if has_aux else g

    gradient.__name__ = f"grad_{getattr(fn, '__name__', 'fn')}"
    gradient.__doc__ = f"Gradient of {getattr(fn, '__name__', 'fn')} with respect to argument(s) {argnums}."
    return gradient


# --------------------------------------------------------------------------- transformations
def _fresh_leaf(x, who, i):
    if not isinstance(x, Tensor):
        raise TypeError(f"{who}: input {i} must be a Tensor, got {type(x).__name__}")
    if not (x.dtype.kind == "f" or x.dtype.name == "bfloat16"):
        raise TypeError(f"{who}: input {i} has dtype {x.dtype}; only floating-point inputs can be differentiated")
    return Tensor._make(x.array, True, None)


def _prep(inputs, who, create_graph=False):
    """Leaves to differentiate at: detached copies, or (create_graph) the inputs themselves
    where they already require grad, so that the result stays connected to them."""
    ins, single = _as_list(inputs)
    xs = [x if (create_graph and isinstance(x, Tensor) and x.requires_grad) else _fresh_leaf(x, who, i)
          for i, x in enumerate(ins)]
    return xs, single


def _vectors(v, refs, who, what):
    """The vectors ``v`` (one per tensor of ``refs``, each of its shape); ``what`` names refs."""
    vs, _ = _as_list(v)
    if len(vs) != len(refs):
        raise ValueError(f"{who}: {len(refs)} {what}s but {len(vs)} vectors v")
    for r, vi in zip(refs, vs):
        if tuple(vi.shape) != tuple(r.shape):
            raise ValueError(f"{who}: v has shape {tuple(vi.shape)} but the {what} has shape {tuple(r.shape)}")
    return vs


def _cotangents(v, outs, who):
    """Cotangents for the outputs: ``v``, or None (meaning 1) for one-element outputs."""
    if v is None:
        for o in outs:
            if o.array.size != 1:
                raise ValueError(f"{who}: v is required for a non-scalar output (shape {tuple(o.shape)})")
        return [None] * len(outs)
    return _vectors(v, outs, who, "output")


def _tangents(v, xs, who):
    """Tangents for the inputs: ``v``, or ones when every input has one element."""
    if v is None:
        if any(x.array.size != 1 for x in xs):
            raise ValueError(f"{who}: v is required unless every input has one element")
        return [Tensor._make(x.array * 0 + 1) for x in xs]
    return _vectors(v, xs, who, "input")


def _scalar_output(out, who):
    if not isinstance(out, Tensor) or out.array.size != 1:
        raise ValueError(f"{who}: func must return a scalar tensor, got shape {tuple(getattr(out, 'shape', ()))}")


def _result(out, create_graph):
    if create_graph:
        return out
    return out.detach() if isinstance(out, Tensor) else tuple(o.detach() for o in out)


def vjp(func, inputs, v=None, create_graph=False):
    """(func(inputs), v^T J).  ``v`` may be omitted for a scalar output (then v = 1)."""
    xs, single = _prep(inputs, "vjp", create_graph)
    with enable_grad():
        out = func(*xs)
        outs, _ = _as_list(out)
        vs = _cotangents(v, outs, "vjp")
        res = _vjp_or_zeros(outs, xs, vs, create_graph=create_graph)
    return _result(out, create_graph), (res[0] if single else tuple(res))


def jvp(func, inputs, v=None, create_graph=False):
    """(func(inputs), J v), forward-mode product computed as the vjp of the vjp.

    With u a dummy cotangent, g(u) = u^T J is linear in u, and d<g(u), v>/du = J v.
    """
    xs, single = _prep(inputs, "jvp", create_graph)
    vs = _tangents(v, xs, "jvp")
    with enable_grad():
        out = func(*xs)
        outs, out_single = _as_list(out)
        # dummy cotangents for the outputs that carry gradients (integer outputs get none)
        live = [k for k, o in enumerate(outs) if o.requires_grad]
        us = [Tensor._make(outs[k].array * 0, True, None) for k in live]
        gs = _vjp_or_zeros([outs[k] for k in live], xs, us, create_graph=True)
        ju = dict(zip(live, _vjp_or_zeros(gs, us, vs, create_graph=create_graph)))  # d<g(u), v>/du = J v
    jv = [ju[k] if k in ju else _zeros_like(o) for k, o in enumerate(outs)]
    return _result(out, create_graph), (jv[0] if out_single else tuple(jv))


def hvp(func, inputs, v=None, create_graph=False):
    """(func(inputs), H v) for a scalar ``func``: reverse over reverse, d/dx <grad f(x), v>."""
    xs, single = _prep(inputs, "hvp", create_graph)
    vs = _tangents(v, xs, "hvp")
    with enable_grad():
        out = func(*xs)
        _scalar_output(out, "hvp")
        gs = _vjp_or_zeros([out], xs, [None], create_graph=True)
        hv = _vjp_or_zeros(gs, xs, vs, create_graph=create_graph)  # d<grad f, v>/dx = H v
    return _result(out, create_graph), (hv[0] if single else tuple(hv))


def vhp(func, inputs, v=None, create_graph=False):
    """(func(inputs), v^T H); equal to ``hvp`` since a Hessian of a smooth f is symmetric."""
    return hvp(func, inputs, v, create_graph=create_graph)


def jacobian(func, inputs, create_graph=False):
    """d func / d inputs: for one input and one output a tensor of shape out.shape + in.shape;
    a tuple over inputs when ``inputs`` is a tuple, and over outputs when ``func`` returns one."""
    from ..ops import reshape, stack

    xs, single = _prep(inputs, "jacobian", create_graph)
    with enable_grad():
        out = func(*xs)
        outs, out_single = _as_list(out)
        result = []
        for o in outs:
            n = o.array.size
            rows = [[] for _ in xs]
            if o.requires_grad:
                xp = xp_of(o.array)
                for i in range(n):  # row i: the vjp with the unit cotangent e_i
                    e = xp.zeros(n, dtype=o.dtype)
                    e[i] = 1
                    gs = _vjp_or_zeros([o], xs, [Tensor._make(e.reshape(o.shape))], retain_graph=True,
                                       create_graph=create_graph)
                    for k, g in enumerate(gs):
                        rows[k].append(g)
            per_in = []
            for k, x in enumerate(xs):
                if rows[k]:
                    J = reshape(stack(rows[k]), tuple(o.shape) + tuple(x.shape))
                else:  # output independent of the inputs (or empty)
                    J = Tensor._make(xp_of(x.array).zeros(tuple(o.shape) + tuple(x.shape), dtype=x.dtype))
                per_in.append(J)
            result.append(per_in[0] if single else tuple(per_in))
    if not create_graph:
        result = [r.detach() if isinstance(r, Tensor) else tuple(t.detach() for t in r) for r in result]
    return result[0] if out_single else tuple(result)


def hessian(func, inputs, create_graph=False):
    """Second derivatives of a scalar ``func``: H = jacobian(grad func), shape in.shape +
    in.shape (a tuple of tuples, H[i][j] = d^2 f / dx_i dx_j, for several inputs)."""
    xs, single = _prep(inputs, "hessian", create_graph)

    def gradient(*args):
        out = func(*args)
        _scalar_output(out, "hessian")
        gs = _vjp_or_zeros([out], list(args), [None], create_graph=True)
        return gs[0] if single else tuple(gs)

    # with create_graph, jacobian keeps these leaves so that the result is connected to them
    return jacobian(gradient, xs[0] if single else tuple(xs), create_graph=create_graph)


__all__ = ["grad", "vjp", "jvp", "hvp", "vhp", "jacobian", "hessian"]
