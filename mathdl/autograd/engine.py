"""Reverse-mode differentiation over the recorded graph.

For outputs y and a seed gradient v, ``run`` computes v^T dy/dx for every tensor x the graph
reaches, by the chain rule applied node by node in reverse topological order:

    grad(input_i) += node.backward(grad(output))[i]

The walk is iterative (graphs tens of thousands of ops deep work), each node's backward runs
once with the sum of its consumers' contributions, and unless ``retain_graph`` the edges and
saved arrays are freed as soon as a node is done.
"""

from __future__ import annotations

import sys

import numpy as np

from ..backend import xp_of
from . import grad_mode
from .function import MODIFIED as _MODIFIED
from .grad_mode import state as _grad_state

_Tensor = None  # bound by tensor.py


def _bind_tensor(cls):
    global _Tensor
    _Tensor = cls

_SECOND_BACKWARD = (
    "trying to backward through the graph a second time (its saved values were freed after the "
    "first backward); pass retain_graph=True to the first backward if you need to do this"
)


def _topo_order(roots):
    """Nodes reachable from ``roots`` in an order where every node comes after its consumers."""
    if len(roots) == 1:  # fast path: a single node whose inputs are all leaves
        root = roots[0]
        inputs = root.inputs
        if inputs is None:
            raise RuntimeError(f"{root.name}: {_SECOND_BACKWARD}")
        for t in inputs:
            if t._node is not None:
                break
        else:
            return [root]
    order = []
    visited = set()
    stack = [(n, False) for n in roots]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append((node, True))
        inputs = node.inputs
        if inputs is None:
            raise RuntimeError(f"{node.name}: {_SECOND_BACKWARD}")
        for t in inputs:
            n = t._node
            if n is not None and n not in visited:
                stack.append((n, False))
    order.reverse()
    return order


def _prune(order, capture_leaf, capture_node):
    """The nodes from which some requested input can be reached (the rest need no backward),
    and ``stop``: requested non-leaf inputs with nothing requested upstream, whose backward
    need not run (their graph is left intact, as PyTorch leaves it)."""
    needed = set()
    stop = set()
    for node in reversed(order):
        for t in node.inputs:
            n = t._node
            if (n is None and id(t) in capture_leaf) or (n is not None and n in needed):
                needed.add(node)
                break
        else:
            if node in capture_node:
                needed.add(node)
                stop.add(node)
    return needed, stop


def _check_versions(node):
    for t, v in zip(node.inputs, node.versions):
        if t._version != v:
            raise RuntimeError(
                f"{node.name}: a tensor of shape {tuple(t.shape)} that this op saved for its backward "
                f"was modified by an in-place operation (version {v} when saved, {t._version} now); "
                f"use an out-of-place op (e.g. x = x + 1 instead of x += 1) or clone() first"
            )


def _add(a, b):
    if _grad_state.enabled:
        return a + b
    return a._make(a.array + b.array)


def _store_leaf_grad(t, g, create_graph, borrowed=None):
    """Accumulate ``g`` into ``t.grad``.

    Without a graph being built, the first gradient a leaf receives in a pass is *borrowed*
    (stored without copying; it may still alias a gradient in flight), later ones are added
    out of place; ``_own_borrowed`` settles ownership when the pass ends.  A leaf whose grad it
    already owns accumulates in place.
    """
    if t._hooks:
        for h in t._hooks:
            r = h(g)
            if r is not None:
                g = r
    if t.grad is None:
        if create_graph or borrowed is None:
            t.grad = g if create_graph else g._make(g.array.copy())
        else:
            t.grad = g._make(g.array)
            borrowed.append(t)
    elif create_graph or t.grad.requires_grad:
        t.grad = t.grad + g
    elif borrowed is not None and any(b is t for b in borrowed):
        t.grad = t.grad._make(t.grad.array + g.array)
    else:
        t.grad.array += g.array


def _own_borrowed(borrowed):
    """Give each borrowed leaf gradient its own writable C-contiguous array.

    After the pass every temporary is gone, so the array's owner is referenced only by the
    leaf's grad (and views of it) unless it aliases something else: another leaf's gradient
    (``a + b`` passes one array to both) or a user's ``gradient=`` argument.  Those, and
    read-only or non-contiguous arrays (broadcast views), are copied; the rest are kept as is,
    which saves one full copy of every parameter gradient per step.
    """
    seen = set()
    for t in borrowed:
        g = t.grad
        if g is None:
            continue
        arr = g.array
        owner = arr if arr.base is None else arr.base
        # references to owner: the getrefcount argument, the local name, and either the
        # grad tensor's slot + `arr` (owner is the array) or the view's .base (arr is a view)
        expected = 4 if owner is arr else 3
        # (only NumPy arrays are borrowed: CuPy's flags have no `writeable`, and a device copy is cheap)
        if (type(arr) is not np.ndarray or id(owner) in seen or not arr.flags.writeable
                or not arr.flags.c_contiguous or owner.base is not None or sys.getrefcount(owner) > expected):
            g.array = arr.copy()
        else:
            seen.add(id(owner))
        del arr, owner


def _hooked_leaf_edges(order):
    """id(leaf) -> number of graph edges into it, for the leaves that have hooks."""
    pending = {}
    for node in order:
        for t in node.inputs:
            if t._node is None and t._hooks:
                pending[id(t)] = pending.get(id(t), 0) + 1
    return pending


def _leaf_edges_done(node, pending, hooked, create_graph, borrowed):
    """Count ``node``'s edges into hooked leaves as delivered; a leaf with none left is complete:
    store its summed gradient now (running its hooks), not when the whole walk ends."""
    for t in node.inputs:
        key = id(t)
        if key in pending:
            pending[key] -= 1
            if pending[key] == 0:
                del pending[key]
                done = hooked.pop(key, None)
                if done is not None:
                    _store_leaf_grad(done[0], done[1], create_graph, borrowed)


def run(outputs, grad_outputs, retain_graph=False, create_graph=False, inputs=None,
        allow_unused=False):
    """Backpropagate ``grad_outputs`` from ``outputs``.

    Without ``inputs`` the gradients go into every reached leaf's ``.grad``
    (``Tensor.backward``); with ``inputs`` the gradients of those tensors are returned and
    nothing is written (``autograd.grad``), and only the part of the graph that leads to them
    is differentiated.
    """
    roots = []
    grads = {}
    leaf_seed = []
    for y, g in zip(outputs, grad_outputs):
        if not y.requires_grad:
            raise RuntimeError(
                f"element of shape {tuple(y.array.shape)} does not require grad and has no grad_fn"
            )
        n = y._node
        if n is None:
            leaf_seed.append((y, g))
        elif n in grads:
            grads[n] = _add(grads[n], g)
        else:
            grads[n] = g
            roots.append(n)

    capture_leaf = capture_node = results = needed = stop = None
    if inputs is not None:
        capture_leaf, capture_node = {}, {}
        results = [None] * len(inputs)
        for i, x in enumerate(inputs):
            if not isinstance(x, _Tensor):
                raise TypeError(f"inputs[{i}] is a {type(x).__name__}, expected a Tensor")
            if not x.requires_grad:
                raise RuntimeError(f"inputs[{i}] (shape {tuple(x.array.shape)}) does not require grad")
            if x._node is None:
                capture_leaf.setdefault(id(x), []).append(i)
            else:
                capture_node.setdefault(x._node, []).append(i)

    prev_mode = _grad_state.enabled
    _grad_state.enabled = bool(create_graph)
    borrowed = None if create_graph else []
    hooked = {}  # id(leaf) -> (leaf, summed gradient) for leaves with hooks
    try:
        for y, g in leaf_seed:
            if inputs is None:
                _store_leaf_grad(y, g, create_graph, borrowed)
            elif id(y) in capture_leaf:
                for i in capture_leaf[id(y)]:
                    results[i] = g if results[i] is None else _add(results[i], g)

        order = _topo_order(roots) if roots else []
        if inputs is not None:
            needed, stop = _prune(order, capture_leaf, capture_node)
        pending = _hooked_leaf_edges(order) if inputs is None else None
        for node in order:
            g = grads.pop(node, None)
            if g is None or (needed is not None and node not in needed):
                if pending:
                    _leaf_edges_done(node, pending, hooked, create_graph, borrowed)
                if not retain_graph and needed is None:  # nodes grad() does not run keep their graph
                    node.release()
                continue
            if node.hooks:
                for h in node.hooks:
                    r = h(g)
                    if r is not None:
                        g = r
            if node.retained is not None and inputs is None:
                t = node.retained()
                if t is not None:
                    t.grad = g if t.grad is None else _add(t.grad, g)
            if capture_node and node in capture_node:
                for i in capture_node[node]:
                    results[i] = g
                if node in stop:
                    continue
            node_inputs = node.inputs
            versions = node.versions
            if versions is not None:
                for t, v in zip(node_inputs, versions):
                    if t._version != v:
                        _check_versions(node)
            if node.save_output and node.out is _MODIFIED:
                raise RuntimeError(
                    f"{node.name}: its output, which it saved for backward, was modified by an in-place "
                    "operation; use an out-of-place op or clone() the output first"
                )
            in_grads = node.backward(g)
            for t, gi in zip(node_inputs, in_grads):
                if gi is None or not t.requires_grad:
                    continue
                if gi.array.shape != t.array.shape:
                    raise RuntimeError(
                        f"{node.name}: backward produced a gradient of shape {tuple(gi.array.shape)} "
                        f"for an input of shape {tuple(t.array.shape)}"
                    )
                n = t._node
                if n is None:
                    if inputs is None:
                        if t._hooks:  # a leaf's hooks run once, on its total gradient (below)
                            prev = hooked.get(id(t))
                            hooked[id(t)] = (t, gi if prev is None else _add(prev[1], gi))
                        else:
                            _store_leaf_grad(t, gi, create_graph, borrowed)
                    elif id(t) in capture_leaf:
                        for i in capture_leaf[id(t)]:
                            results[i] = gi if results[i] is None else _add(results[i], gi)
                elif needed is None or n in needed:
                    prev = grads.get(n)
                    grads[n] = gi if prev is None else _add(prev, gi)
            if pending:  # a hooked leaf whose last contribution this was gets its hooks now
                _leaf_edges_done(node, pending, hooked, create_graph, borrowed)
            if not retain_graph:
                node.release()
        for t, gi in hooked.values():
            _store_leaf_grad(t, gi, create_graph, borrowed)
        hooked = t = None
    finally:
        _grad_state.enabled = prev_mode
    if borrowed:
        # drop this frame's references to gradients in flight before judging ownership
        grads = order = g = in_grads = gi = leaf_seed = grad_outputs = outputs = y = None  # noqa: F841
        _own_borrowed(borrowed)

    if results is not None:
        for i, r in enumerate(results):
            if r is None and not allow_unused:
                raise RuntimeError(
                    f"inputs[{i}] (shape {tuple(inputs[i].array.shape)}) was not used to compute the "
                    "outputs; pass allow_unused=True to get None for it"
                )
    return results


def _seed(y, g):
    if g is None:
        if y.array.size != 1:
            raise RuntimeError(
                f"grad can be implicitly created only for scalar outputs; got shape {tuple(y.shape)}: "
                "pass gradient= (a tensor of that shape)"
            )
        return _Tensor._make(_ones_like(y.array))
    if not isinstance(g, _Tensor):
        g = _Tensor(g, dtype=y.dtype)
    if g.array.shape != y.array.shape:
        raise RuntimeError(
            f"gradient has shape {tuple(g.array.shape)} but the output has shape {tuple(y.array.shape)}"
        )
    if g.array.dtype != y.array.dtype:  # as PyTorch: the seed takes the output's dtype
        g = g.astype(y.array.dtype)
    return g


def _ones_like(a):
    return xp_of(a).ones_like(a)


def backward(tensor, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    """``Tensor.backward``: accumulate d(tensor)/d(leaf) into each leaf's ``.grad``."""
    if retain_graph is None:
        retain_graph = create_graph
    seed = _seed(tensor, gradient)
    if inputs is not None:
        inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        res = run([tensor], [seed], retain_graph, create_graph, inputs=inputs, allow_unused=True)
        for x, g in zip(inputs, res):
            if g is not None:
                prev = _grad_state.enabled
                _grad_state.enabled = bool(create_graph)
                try:
                    _store_leaf_grad(x, g, create_graph)
                finally:
                    _grad_state.enabled = prev
        return
    run([tensor], [seed], retain_graph, create_graph)


def backward_many(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """``mathdl.autograd.backward``: the sum over ``tensors`` of their backward passes (each seeded
    with its entry of ``grad_tensors``; ones for scalars), in one walk of the graph."""
    if not isinstance(tensors, (list, tuple)):
        return backward(tensors, grad_tensors, retain_graph, create_graph, inputs)
    tensors = list(tensors)
    if grad_tensors is None:
        grad_tensors = [None] * len(tensors)
    elif not isinstance(grad_tensors, (list, tuple)):
        grad_tensors = [grad_tensors]
    if len(grad_tensors) != len(tensors):
        raise ValueError(f"backward: got {len(grad_tensors)} grad_tensors for {len(tensors)} tensors")
    if len(tensors) == 1:
        return backward(tensors[0], grad_tensors[0], retain_graph, create_graph, inputs)
    if inputs is not None:
        raise NotImplementedError("backward: inputs= with several tensors; call backward per tensor")
    if retain_graph is None:
        retain_graph = create_graph
    seeds = [_seed(t, g) for t, g in zip(tensors, grad_tensors)]
    run(tensors, seeds, retain_graph, create_graph)


__all__ = ["run", "backward", "backward_many", "grad_mode"]
