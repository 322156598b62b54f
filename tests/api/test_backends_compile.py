"""PyTorch programs' set-up lines: torch.backends, torch.accelerator, torch.compile, torch.cuda.amp."""

import numpy as np
import pytest

import mathdl as md


def test_backends_answer_as_pytorch_does_on_a_cpu_machine():
    import mathdl.backends.cudnn as cudnn  # the spelling programs use

    assert not md.backends.mps.is_available() and not md.backends.mps.is_built()
    assert not cudnn.is_available()
    cudnn.benchmark = True  # accepted and kept
    assert md.backends.cudnn.benchmark is True
    md.backends.cudnn.benchmark = False
    md.backends.cuda.matmul.allow_tf32 = True
    assert md.backends.cuda.matmul.allow_tf32
    md.backends.cuda.matmul.allow_tf32 = False
    assert md.backends.cuda.math_sdp_enabled() and not md.backends.cuda.flash_sdp_enabled()
    with pytest.raises(RuntimeError, match="only attention kernel"):
        md.backends.cuda.enable_math_sdp(False)
    assert isinstance(md.backends.cpu.get_cpu_capability(), str)


def test_accelerator_and_cuda_without_a_gpu():
    if md.cuda.is_available():
        pytest.skip("a GPU is present")
    assert md.accelerator.is_available() is False and md.accelerator.current_accelerator() is None
    assert md.cuda.is_bf16_supported() is False


def test_compile_is_the_identity_and_checks_its_arguments():
    m = md.nn.Linear(3, 2)
    assert md.compile(m) is m

    @md.compile(mode="reduce-overhead")
    def f(x):
        return x * 2

    assert f(md.ones(2)).tolist() == [2.0, 2.0]
    with pytest.raises(ValueError, match="unknown mode"):
        md.compile(m, mode="fastest")
    with pytest.raises(TypeError, match="module or a function"):
        md.compile(3)
    assert md.compiler.is_compiling() is False


def test_cuda_amp_disables_itself_without_cuda_as_pytorch():
    from mathdl.cuda.amp import GradScaler, autocast

    if md.cuda.is_available():
        pytest.skip("a GPU is present")
    import torch

    a = md.ones(2, 2)
    with pytest.warns(UserWarning, match="CUDA is not available"):
        ctx = autocast()
    with ctx:
        assert (a @ a).dtype == md.float32 == md.float32  # torch: float32 too
    with pytest.warns(UserWarning, match="CUDA is not available"):
        s = GradScaler()
    with pytest.warns(UserWarning):
        t = torch.cuda.amp.GradScaler()
    assert s.is_enabled() == t.is_enabled() is False and s.get_scale() == t.get_scale() == 1.0
    assert isinstance(s, md.amp.GradScaler)
    np.testing.assert_array_equal(s.scale(a).numpy(), a.numpy())
    with md.amp.autocast("cuda"):  # mathdl.amp itself computes in float16 on the CPU (mathdl's policy)
        assert (a @ a).dtype == md.float16
