"""The base of every primitive operation: a node of the recorded graph.

A primitive ``F`` has

* ``forward(self, *arrays) -> array`` on raw backend arrays (fast: no Tensor wrappers), and
* ``backward(self, g) -> tuple`` that maps the output's gradient ``g`` (a Tensor) to one
  gradient per input (a Tensor or ``None``), **written in mathdl ops**.

Because the backward is made of recorded ops, running it with grad mode on (what
``create_graph=True`` does) records the derivative itself: grad-of-grad, Hessian-vector
products and input gradients inside losses come for free.

Each call ``F(params...)(*tensors)`` creates one node.  A node has exactly one output; ops with
extra non-differentiable results (``max`` indices, ``topk`` indices) return those as plain
arrays from ``forward`` bookkeeping, never as graph outputs.
"""

from __future__ import annotations

import inspect as _inspect

import numpy as _np

from .grad_mode import state as _grad_state

_ndarray, _generic, _asarray = _np.ndarray, _np.generic, _np.asarray


class Function:
    """Base class of primitive ops.  Subclasses set attributes in ``__init__`` and implement
    ``forward`` and ``backward``.

    Attributes set on recorded nodes:
      inputs    the input Tensors (the graph's edges; None once the graph is released)
      versions  the inputs' version counters at record time (in-place detection)
      out       saved output array when ``save_output`` is true (see ``output()``)
    """

    __slots__ = ("inputs", "versions", "out", "hooks", "retained", "__weakref__")
    save_output = False  # subclasses that need their result in backward set this
    saves_inputs = True  # False for ops whose backward never reads the inputs' values

    def forward(self, *arrays):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, g):  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def name(self) -> str:
        return type(self).__name__

    # -- calling -----------------------------------------------------------------
    def __call__(self, *inputs):
        n = len(inputs)
        if n == 2:
            a, b = inputs
            ad, bd = a.array, b.array
            if ad.__class__ is not bd.__class__:  # one identity test; devices compared only then
                _same_device(self, inputs)
            out_data = self.forward(ad, bd)
        elif n == 1:
            a = b = inputs[0]
            out_data = self.forward(a.array)
        else:
            arrays = [t.array for t in inputs]
            if arrays:
                cls = arrays[0].__class__
                for d in arrays:
                    if d.__class__ is not cls:
                        _same_device(self, inputs)
                        break
            out_data = self.forward(*arrays)
            a = b = None
        if out_data.__class__ is not _ndarray and isinstance(out_data, _generic):
            out_data = _asarray(out_data)  # NumPy reductions return scalars; keep 0-d arrays
        if _grad_state.enabled:
            if a is not None and (a.requires_grad or b.requires_grad):
                return self._record(inputs, out_data)
            if a is None and any(t.requires_grad for t in inputs):
                return self._record(inputs, out_data)
        t = _new(_Tensor)
        t.array = out_data
        t.grad = None
        t.requires_grad = False
        t._node = None
        t._version = 0
        t._hooks = None
        return t

    def _record(self, inputs, out_data):
        self.inputs = inputs
        self.versions = tuple([t._version for t in inputs]) if self.saves_inputs else None
        self.hooks = None
        self.retained = None
        if self.save_output:
            self.out = out_data
        t = _new(_Tensor)
        t.array = out_data
        t.grad = None
        t.requires_grad = True
        t._node = self
        t._version = 0
        t._hooks = None
        return t

    # -- helpers for backward ------------------------------------------------------
    def needs(self, i: int) -> bool:
        """Whether input ``i`` needs a gradient."""
        return self.inputs[i].requires_grad

    def output(self):
        """The op's result as a Tensor for use in ``backward``.

        Without grad mode the saved array is wrapped; with grad mode (create_graph) the op is
        applied again to its inputs so that the result is connected to the graph.
        """
        if _grad_state.enabled:
            return self.replay()
        return _Tensor._make(self.out, False, None)

    def replay(self):
        """Apply a fresh copy of this op (same parameters) to the same inputs."""
        cls = type(self)
        fn = cls.__new__(cls)
        for k in _param_slots(cls):
            setattr(fn, k, getattr(self, k))
        d = getattr(self, "__dict__", None)
        if d:
            fn.__dict__.update(d)
        return fn(*self.inputs)

    def release(self):
        """Drop the edges and saved arrays (after backward without retain_graph)."""
        self.inputs = None
        self.out = None
        for k in _param_slots(type(self)):
            if k.startswith("saved"):
                setattr(self, k, None)


def _same_device(fn, inputs):
    """Raise when the inputs' arrays live on different devices (their array types differ, which
    is when ``__call__`` asks), naming the op and both devices, as PyTorch does."""
    from ..backend import device_of

    devices = []
    for t in inputs:
        d = device_of(t.array)
        if d not in devices:
            devices.append(d)
    if len(devices) > 1:
        raise RuntimeError(f"{fn.name}: expected all tensors to be on the same device, but found at least two "
                           f"devices, {devices[0]} and {devices[1]}")


_slot_cache: dict = {}


def _param_slots(cls):
    """All ``__slots__`` a subclass added (its parameters and saved values)."""
    try:
        return _slot_cache[cls]
    except KeyError:
        names = []
        for klass in cls.__mro__:
            if klass is Function:
                break
            names.extend(getattr(klass, "__slots__", ()))
        _slot_cache[cls] = tuple(names)
        return _slot_cache[cls]


MODIFIED = "<modified in place>"  # marks a saved output that an in-place op overwrote
_Tensor = None  # set by tensor.py (avoids an import cycle)
_new = object.__new__


def _bind_tensor(cls):
    global _Tensor
    _Tensor = cls


# ---------------------------------------------------------------------- PyTorch's custom Function
# PyTorch's protocol on top of the primitive base:
#   class MyFn(mathdl.autograd.Function):
#       @staticmethod
#       def forward(ctx, x, k): ctx.save_for_backward(x); ctx.k = k; return x ** k
#       @staticmethod
#       def backward(ctx, g): x, = ctx.saved_tensors; return g * ctx.k * x ** (ctx.k - 1), None
#   y = MyFn.apply(x, 3)
# forward runs on Tensors without recording; backward is written in mathdl ops, so create_graph works.


class FunctionCtx:
    """The ``ctx`` of a PyTorch-style Function: ``save_for_backward(*tensors)`` / ``saved_tensors``,
    ``needs_input_grad`` (one bool per argument of forward), ``mark_non_differentiable``,
    ``set_materialize_grads`` and ``mark_dirty`` (accepted); any other attribute is free storage."""

    def __init__(self):
        self.saved_tensors = ()
        self.needs_input_grad = ()
        self.materialize_grads = True

    def save_for_backward(self, *tensors):
        self.saved_tensors = tuple(tensors)

    def mark_non_differentiable(self, *tensors):
        self.non_differentiable = tuple(tensors)

    def set_materialize_grads(self, value):
        self.materialize_grads = bool(value)

    def mark_dirty(self, *tensors):
        self.dirty_tensors = tuple(tensors)


class _CtxNode(Function):
    """The recorded node of one ``apply``: its forward hands back the result computed by the user's
    forward; its backward calls the user's backward and keeps the gradients of the Tensor arguments."""

    __slots__ = ("fn_cls", "ctx", "result", "positions")

    def forward(self, *arrays):
        return self.result

    def backward(self, g):
        grads = self.fn_cls.backward(self.ctx, g)
        if not isinstance(grads, tuple):
            grads = (grads,)
        n = max(self.positions) + 1
        if len(grads) < n:
            raise RuntimeError(f"{self.fn_cls.__name__}.backward: returned {len(grads)} gradients, expected one per "
                               f"argument of forward ({n} at least)")
        return tuple(grads[i] for i in self.positions)

    @property
    def name(self) -> str:
        return f"{self.fn_cls.__name__}Backward"

    def release(self):
        super().release()
        self.ctx = None
        self.result = None


def _apply(cls, *args, **kwargs):
    """PyTorch's ``Function.apply``: run the static ``forward(ctx, *args)`` on Tensors without recording,
    and record one node whose gradient is the static ``backward(ctx, grad)`` (one gradient per argument
    of forward, None for non-Tensors).  One Tensor result (mathdl's nodes have one output)."""
    if not isinstance(_inspect.getattr_static(cls, "forward", None), staticmethod):
        raise TypeError(f"{cls.__name__}.apply: forward must be a @staticmethod forward(ctx, ...) as in PyTorch; "
                        f"mathdl primitives are called as {cls.__name__}(...)(*tensors)")
    from .grad_mode import no_grad

    ctx = FunctionCtx()
    ctx.needs_input_grad = tuple(isinstance(a, _Tensor) and a.requires_grad for a in args)
    with no_grad():
        out = cls.forward(ctx, *args, **kwargs)
    if not isinstance(out, _Tensor):
        raise TypeError(f"{cls.__name__}.forward: expected one Tensor as the result (mathdl records "
                        f"single-output functions), got {type(out).__name__}")
    if not (_grad_state.enabled and any(ctx.needs_input_grad)):
        return out
    node = _CtxNode()
    node.fn_cls, node.ctx, node.result = cls, ctx, out.array
    node.positions = [i for i, a in enumerate(args) if isinstance(a, _Tensor)]
    return node(*[args[i] for i in node.positions])


Function.apply = classmethod(_apply)


def once_differentiable(backward):
    """PyTorch's ``torch.autograd.function.once_differentiable``: run ``backward`` without recording
    (its result then has no second derivative)."""
    import functools

    @functools.wraps(backward)
    def wrapper(ctx, *grads):
        from .grad_mode import no_grad

        with no_grad():
            return backward(ctx, *grads)

    return wrapper
