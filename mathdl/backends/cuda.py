"""``torch.backends.cuda``: the matmul precision switches (kept, not acted on: CuPy's matmul
follows its own settings) and the scaled-dot-product-attention kernel choices (mathdl has one
attention kernel, the math one, so ``math_sdp_enabled()`` is the only true answer)."""

from __future__ import annotations

from types import SimpleNamespace

from .. import backend

matmul = SimpleNamespace(allow_tf32=False, allow_fp16_reduced_precision_reduction=True,
                         allow_bf16_reduced_precision_reduction=True)
_sdp = {"flash": False, "mem_efficient": False, "math": True, "cudnn": False}


def is_built() -> bool:
    """Whether the CUDA backend (CuPy) is installed."""
    return backend._cupy is not None


def flash_sdp_enabled() -> bool:
    return _sdp["flash"]


def mem_efficient_sdp_enabled() -> bool:
    return _sdp["mem_efficient"]


def math_sdp_enabled() -> bool:
    return _sdp["math"]


def enable_flash_sdp(enabled: bool) -> None:
    """Accepted; mathdl has no flash-attention kernel, so attention stays on the math kernel."""


def enable_mem_efficient_sdp(enabled: bool) -> None:
    """Accepted; mathdl has no memory-efficient attention kernel."""


def enable_math_sdp(enabled: bool) -> None:
    if not enabled:
        raise RuntimeError("backends.cuda.enable_math_sdp(False): the math kernel is mathdl's only attention "
                           "kernel and cannot be turned off")
