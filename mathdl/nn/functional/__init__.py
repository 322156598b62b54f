"""``mathdl.nn.functional`` (import as ``F``): the functional forms of layers, activations and
losses, one file per topic (as PyTorch's ``torch.nn.functional``); the primitives they call are
in :mod:`mathdl.ops`.

``gumbel_softmax`` resolves lazily to :func:`mathdl.distributions.relaxed.gumbel_softmax`.
"""

from .activation import *  # noqa: F401,F403
from .attention import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .distance import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .padding import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .sparse import *  # noqa: F401,F403
from .vision import *  # noqa: F401,F403

_LAZY = {"gumbel_softmax": "mathdl.distributions.relaxed"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
