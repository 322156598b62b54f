"""Reference architectures, each registered by name for the ``mathdl`` command.

Every module of this package is imported here, so that a new architecture registers itself by
existing: put ``@register_model("name")`` on its builder in ``mathdl/models/<family>.py``.
"""

import importlib as _importlib
import pkgutil as _pkgutil

from .registry import MODELS, build_model, model_names, register_model  # noqa: F401

for _info in _pkgutil.iter_modules(__path__):
    if _info.name != "registry":
        _importlib.import_module(f"{__name__}.{_info.name}")
