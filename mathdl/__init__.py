"""mathdl: deep learning from its mathematical foundations, verified.

The public names: ``Tensor`` and the creation functions, every op (``mathdl.exp``,
``mathdl.matmul``...), grad mode (``no_grad``), dtypes, ``manual_seed``, and the
sub-packages ``autograd``, ``linalg``, ``nn``, ``optim``, ``data``.
"""

from . import backend
from .autograd import (
    Function, Tensor, enable_grad, gradcheck, gradgradcheck, is_grad_enabled, no_grad,
    set_grad_enabled,
)
from .backend import (
    bfloat16, bool_, cuda_is_available, float16, float32, float64, get_default_dtype, int8, int16,
    int32, int64, manual_seed, set_default_dtype, uint8,
)
from . import linalg  # noqa: F401  (mathdl.linalg)
from .creation import (
    arange, as_tensor, empty, empty_like, eye, from_numpy, full, full_like, linspace, normal, ones,
    ones_like, rand, rand_like, randint, randn, randn_like, randperm, tensor, zeros, zeros_like,
)
from .ops import *  # noqa: F401,F403
from .ops import __all__ as _ops_all  # noqa: F401

bool = bool_  # noqa: A001  (mathdl.bool, like torch.bool)
from .backend import (  # noqa: F401  (torch-style names)
    Generator, byte, char, default_generator, double, finfo, get_rng_state, half, iinfo, initial_seed, long, seed,
    set_rng_state, short,
)
from .backend import float32 as float, int32 as int  # noqa: A001  (torch.float, torch.int)
from .creation import logspace, randint_like, scalar_tensor  # noqa: F401
from .autograd import inference_mode  # noqa: F401

__version__ = "0.1.0"

from .serialization import load, save  # noqa: E402  (checkpoints: mathdl.save / mathdl.load)
from .parallel import get_num_threads, set_num_threads  # noqa: E402  (BLAS and mathdl's passes together)
from .compiler import compile  # noqa: E402,A001  (torch.compile: the identity, mathdl is eager)
from .backend import get_default_device, set_default_device  # noqa: E402
from .autograd.tensor import set_printoptions  # noqa: E402
from .amp import autocast  # noqa: E402  (torch.autocast)
from .determinism import (  # noqa: E402
    Size, are_deterministic_algorithms_enabled, get_float32_matmul_precision, set_float32_matmul_precision,
    use_deterministic_algorithms,
)

# Every public subpackage is reachable as an attribute after ``import mathdl`` (``md.nn.functional``,
# ``md.distributions.Normal``...), imported on first use so that ``import mathdl`` stays fast.
_SUBPACKAGES = (
    "accelerator", "amp", "analysis", "autograd", "backends", "bayes", "compiler", "compress", "cuda", "curvature",
    "data", "distributed", "jit",
    "distributions", "experiments", "flows", "linalg", "metrics", "models", "nn", "optim", "parallel", "physics",
    "special", "utils",
)


def __getattr__(name):
    if name in _SUBPACKAGES:
        import importlib

        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SUBPACKAGES))
