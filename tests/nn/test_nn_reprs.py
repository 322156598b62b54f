"""Layer reprs equal PyTorch's (the part inside the parentheses; mathdl's repr adds a parameter count)."""

import pytest

from mathdl import nn

torch = pytest.importorskip("torch")

CONV = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]
CONV_OPTIONS = [{}, {"dilation": 2, "bias": False}, {"padding": 1, "groups": 2}, {"stride": 2}]
POOLS = [("MaxPool1d", (3,), {}), ("MaxPool2d", (3,), {"stride": 2, "padding": 1}), ("MaxPool3d", (2,), {}),
         ("AvgPool1d", (3,), {}), ("AvgPool1d", (3,), {"stride": 2, "padding": 1}), ("AvgPool2d", (2,), {}),
         ("AvgPool3d", (2,), {}), ("AdaptiveAvgPool2d", ((2, 2),), {}), ("AdaptiveMaxPool1d", (4,), {})]


@pytest.mark.parametrize("options", CONV_OPTIONS, ids=lambda o: ",".join(o) or "defaults")
@pytest.mark.parametrize("cls", CONV)
def test_conv_repr_equals_torch(cls, options):
    assert getattr(nn, cls)(4, 6, 3, **options).extra_repr() == getattr(torch.nn, cls)(4, 6, 3, **options).extra_repr()


@pytest.mark.parametrize("cls,args,options", POOLS)
def test_pool_repr_and_stride_equal_torch(cls, args, options):
    m, t = getattr(nn, cls)(*args, **options), getattr(torch.nn, cls)(*args, **options)
    assert m.extra_repr() == t.extra_repr()
    if hasattr(t, "stride"):
        assert m.stride == t.stride
