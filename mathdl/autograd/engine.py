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

from . import grad_mode
from .grad_mode import state as _grad_state

_SECOND_BACKWARD = (
    "trying to backward through the graph a second time (its saved values were freed after the "
    "first backward); pass retain_graph=True to the first backward if you need to do this"
)


def _topo_order(roots):
    """Nodes reachable from ``roots`` in an order where every node comes after its consumers."""
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
    return a._make(a.data + b.data)


def _store_leaf_grad(t, g, create_graph):
    """Accumulate ``g`` into ``t.grad`` (in place when no graph is being built)."""
    if t._hooks:
        for h in t._hooks:
            r = h(g)
            if r is not None:
                g = r
    if t.grad is None:
        if create_graph:
            t.grad = g
        else:
            arr = g.data
            # own the array: never alias another tensor's storage or a broadcast view
            if arr.base is not None or not arr.flags.writeable or sys.getrefcount(arr) > 3:
                arr = arr.copy()
            t.grad = g._make(arr)
    elif create_graph or t.grad.requires_grad:
        t.grad = t.grad + g
    else:
        t.grad.data += g.data


def run(outputs, grad_outputs, retain_graph=False, create_graph=False, inputs=None,
        allow_unused=False):
    """Backpropagate ``grad_outputs`` from ``outputs``.

    Without ``inputs`` the gradients go into every reached leaf's ``.grad``
    (``Tensor.backward``); with ``inputs`` the gradients of those tensors are returned and
    nothing is written (``autograd.grad``).
    """
    from .tensor import Tensor

    roots = []
    grads = {}
    leaf_seed = []
    for y, g in zip(outputs, grad_outputs):
        if not y.requires_grad:
            raise RuntimeError(
                f"element of shape {tuple(y.shape)} does not require grad and has no grad_fn"
            )
        if y._node is None:
            leaf_seed.append((y, g))
            continue
        n = y._node
        if n in grads:
            grads[n] = _add(grads[n], g)
        else:
            grads[n] = g
            roots.append(n)

    capture_leaf = {}
    capture_node = {}
    results = None
    if inputs is not None:
        results = [None] * len(inputs)
        for i, x in enumerate(inputs):
            if not isinstance(x, Tensor):
                raise TypeError(f"inputs[{i}] is a {type(x).__name__}, expected a Tensor")
            if not x.requires_grad:
                raise RuntimeError(f"inputs[{i}] (shape {tuple(x.shape)}) does not require grad")
            if x._node is None:
                capture_leaf.setdefault(id(x), []).append(i)
            else:
                capture_node.setdefault(x._node, []).append(i)

    prev_mode = _grad_state.enabled
    _grad_state.enabled = bool(create_graph)
    try:
        for y, g in leaf_seed:
            if inputs is None:
                _store_leaf_grad(y, g, create_graph)
            elif id(y) in capture_leaf:
                for i in capture_leaf[id(y)]:
                    results[i] = g if results[i] is None else _add(results[i], g)

        order = _topo_order(roots)
        for node in order:
            g = grads.pop(node, None)
            if g is None:  # no gradient flows here (e.g. only through int outputs)
                if not retain_graph:
                    node.release()
                continue
            if node.hooks:
                for h in node.hooks:
                    r = h(g)
                    if r is not None:
                        g = r
            if node.retained is not None:
                t = node.retained()
                if t is not None and inputs is None:
                    t.grad = g if t.grad is None else _add(t.grad, g)
            if node in capture_node:
                for i in capture_node[node]:
                    results[i] = g
            _check_versions(node)
            in_grads = node.backward(g)
            node_inputs = node.inputs
            for t, gi in zip(node_inputs, in_grads):
                if gi is None or not t.requires_grad:
                    continue
                if gi.shape != t.shape:
                    raise RuntimeError(
                        f"{node.name}: backward produced a gradient of shape {tuple(gi.shape)} "
                        f"for an input of shape {tuple(t.shape)}"
                    )
                n = t._node
                if n is None:
                    if inputs is None:
                        _store_leaf_grad(t, gi, create_graph)
                    elif id(t) in capture_leaf:
                        for i in capture_leaf[id(t)]:
                            results[i] = gi if results[i] is None else _add(results[i], gi)
                else:
                    prev = grads.get(n)
                    grads[n] = gi if prev is None else _add(prev, gi)
            if not retain_graph:
                node.release()
    finally:
        _grad_state.enabled = prev_mode

    if results is not None:
        for i, r in enumerate(results):
            if r is None and not allow_unused:
                raise RuntimeError(
                    f"inputs[{i}] (shape {tuple(inputs[i].shape)}) was not used to compute the outputs; "
                    "pass allow_unused=True to get None for it"
                )
    return results


def _seed(y, g):
    from .tensor import Tensor

    if g is None:
        if y.data.size != 1:
            raise RuntimeError(
                f"grad can be implicitly created only for scalar outputs; got shape {tuple(y.shape)}: "
                "pass gradient= (a tensor of that shape)"
            )
        return Tensor._make(_ones_like(y.data))
    if not isinstance(g, Tensor):
        g = Tensor(g, dtype=y.dtype)
    if g.shape != y.shape:
        raise RuntimeError(f"gradient has shape {tuple(g.shape)} but the output has shape {tuple(y.shape)}")
    return g


def _ones_like(a):
    from ..backend import xp_of

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


__all__ = ["run", "backward", "grad_mode"]
