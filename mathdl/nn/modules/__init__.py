"""The layer classes of ``mathdl.nn``, one file per family (as PyTorch's ``torch.nn.modules``)."""

import importlib as _importlib

from .activation import *  # noqa: F401,F403
from .attention import *  # noqa: F401,F403
from .batchnorm import *  # noqa: F401,F403
from .container import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .distance import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .fold import *  # noqa: F401,F403
from .flatten import *  # noqa: F401,F403
from .instancenorm import *  # noqa: F401,F403
from .lazy import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .module import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .padding import *  # noqa: F401,F403
from .pixelshuffle import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .sparse import *  # noqa: F401,F403
from .transformer import *  # noqa: F401,F403
from .upsampling import *  # noqa: F401,F403

_names = [n for n in dir() if not n.startswith("_") and isinstance(globals()[n], type)]

# Families written alongside this package; a file still being written may be absent.
for _mod in ("recurrent", "perceptual"):
    try:
        _m = _importlib.import_module(f"{__name__}.{_mod}")
    except ModuleNotFoundError as _e:  # pragma: no cover
        if _e.name != f"{__name__}.{_mod}":
            raise
    else:
        globals().update({_n: getattr(_m, _n) for _n in _m.__all__})
        _names += list(_m.__all__)
del _mod

__all__ = _names
