"""Module backward hooks (PyTorch's ``register_full_backward_hook`` / ``register_full_backward_pre_hook``).

For a module y = f(x_1, ..., x_n) called with hooks registered, the inputs that require grad and
the Tensor outputs are passed through identity nodes of the graph.  In the backward pass the output
identities see dL/dy (the pre-hooks run there and may replace it), and the input identities see
dL/dx_i, when the full hooks run as ``hook(module, grad_input, grad_output)``; ``grad_input`` has one
entry per positional argument (None for non-Tensors and inputs without gradient), ``grad_output``
one per Tensor output.  A hook's non-None result replaces ``grad_input``.

mathdl's graph nodes have one output each, so the input gradients reach their identities one at a
time: the hooks run once the last of them has arrived, and may replace the gradient of a module with
one differentiable input (a replacement for several is refused: the others have already been sent
on).  Pre-hooks need a module with one Tensor output; a module whose inputs need no gradient runs its
full hooks when its (single) output gradient arrives, with ``grad_input`` all None, as PyTorch does.
"""

from __future__ import annotations

import warnings

from ...autograd.function import Function
from ...autograd.grad_mode import state as _grad_state
from ...autograd.tensor import Tensor

__all__ = ["BackwardHookCall"]


class _Identity(Function):
    """y = x; the backward hands the gradient to ``callback(position, g)`` and passes on what it returns."""

    __slots__ = ("callback", "position")
    saves_inputs = False

    def __init__(self, callback, position):
        self.callback, self.position = callback, position

    def forward(self, a):
        return a

    def backward(self, g):
        return (self.callback(self.position, g),)


class BackwardHookCall:
    """The bookkeeping of one call of a module that has backward hooks."""

    def __init__(self, module, full_hooks, pre_hooks):
        self.module, self.full_hooks, self.pre_hooks = module, full_hooks, pre_hooks
        self.n_inputs = 0
        self.waiting = set()
        self.grad_input = []
        self.grad_output = []
        self.n_outputs = 0

    def wrap_inputs(self, args):
        """The arguments with each Tensor that requires grad passed through an identity node."""
        self.n_inputs = len(args)
        self.grad_input = [None] * len(args)
        if not _grad_state.enabled:
            return args
        out = []
        for i, a in enumerate(args):
            if isinstance(a, Tensor) and a.requires_grad:
                self.waiting.add(i)
                a = _Identity(self._input_grad, i)(a)
            out.append(a)
        return tuple(out)

    def wrap_outputs(self, out):
        """The output(s) with each Tensor passed through an identity node."""
        if not _grad_state.enabled:
            return out
        single = isinstance(out, Tensor)
        items = [out] if single else list(out) if isinstance(out, tuple) else None
        if items is None:
            return out
        if self.pre_hooks and not single:
            raise RuntimeError(f"{type(self.module).__name__}: backward pre-hooks need a module with one Tensor "
                               "output (mathdl's graph nodes have one output each)")
        self.n_outputs = len(items)
        self.grad_output = [None] * len(items)
        wrapped = [_Identity(self._output_grad, i)(t) if isinstance(t, Tensor) and t.requires_grad else t
                   for i, t in enumerate(items)]
        return wrapped[0] if single else tuple(wrapped)

    def _output_grad(self, i, g):
        for hook in list(self.pre_hooks.values()):
            r = hook(self.module, (g,))
            if r is not None:
                g = r[0] if isinstance(r, tuple) else r
        self.grad_output[i] = g
        if not self.waiting and self.n_outputs == 1 and self.full_hooks:  # no input needs a gradient
            warnings.warn("Full backward hook is firing when gradients are computed with respect to module outputs "
                          "since no inputs require gradients.", UserWarning, stacklevel=2)
            self._run_full_hooks(None)
        return g

    def _input_grad(self, i, g):
        self.grad_input[i] = g
        self.waiting.discard(i)
        if self.waiting:
            return g
        return self._run_full_hooks(i)

    def _run_full_hooks(self, last):
        grad_input = tuple(self.grad_input)
        for hook in list(self.full_hooks.values()):
            r = hook(self.module, grad_input, tuple(self.grad_output))
            if r is None:
                continue
            r = tuple(r) if isinstance(r, (tuple, list)) else (r,)
            if len(r) != self.n_inputs:
                raise RuntimeError(f"{type(self.module).__name__}: a backward hook returned {len(r)} gradients, "
                                   f"expected {self.n_inputs} (one per input)")
            changed = [k for k in range(self.n_inputs) if r[k] is not grad_input[k]]
            if any(k != last for k in changed):
                raise RuntimeError(f"{type(self.module).__name__}: a backward hook may replace the gradient of "
                                   "one differentiable input only (the others have already been passed on)")
            grad_input = r
        return grad_input[last] if last is not None else None
