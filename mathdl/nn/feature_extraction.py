"""Named intermediate features of any model (like ``torchvision.models.feature_extraction``).

``create_feature_extractor(model, return_nodes)`` wraps ``model`` so that calling it returns a dict of
the outputs of the submodules named in ``return_nodes`` (names as in ``model.named_modules()``, e.g.
``"features.3"``; a dict maps them to output keys).  It works by forward hooks: the model runs
unchanged and each named submodule's output is recorded as it is produced (it stays in the graph, so
losses on features are differentiable in the input).
"""

from __future__ import annotations

from .modules.module import Module

__all__ = ["create_feature_extractor", "get_graph_node_names"]


def get_graph_node_names(model):
    """(train names, eval names) of the submodules whose outputs can be returned (the same list twice)."""
    names = [n for n, _ in model.named_modules() if n]
    return names, list(names)


class FeatureExtractor(Module):
    """``model`` whose call returns ``{output_name: activation}`` for the requested submodules."""

    def __init__(self, model, return_nodes):
        super().__init__()
        if isinstance(return_nodes, (list, tuple)):
            return_nodes = {str(n): str(n) for n in return_nodes}
        if not isinstance(return_nodes, dict) or not return_nodes:
            raise ValueError("create_feature_extractor: return_nodes must be a non-empty list of module names or "
                             "a dict {module name: output name}")
        modules = dict(model.named_modules())
        missing = [n for n in return_nodes if n not in modules or n == ""]
        if missing:
            raise ValueError(f"create_feature_extractor: no submodule named {missing}; available: "
                             f"{get_graph_node_names(model)[0]}")
        self.model = model
        self.return_nodes = dict(return_nodes)
        self._store = {}
        self._handles = [modules[name].register_forward_hook(self._hook(out)) for name, out in
                         self.return_nodes.items()]

    def _hook(self, key):
        def hook(module, inputs, output):
            self._store[key] = output

        return hook

    def forward(self, x):
        self._store = {}
        self.model(x)
        out, self._store = self._store, {}
        return {k: out[k] for k in self.return_nodes.values()}


def create_feature_extractor(model, return_nodes):
    """Wrap ``model`` to return the named intermediate activations as a dict (see the module docstring)."""
    return FeatureExtractor(model, return_nodes)
