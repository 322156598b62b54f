"""Residual networks (He et al. 2016) and their plain counterparts.

A residual block computes  y = relu(F(x) + S(x))  with
  BasicBlock:  F = BN(conv3x3(relu(BN(conv3x3(x)))))                       (two layers)
  Bottleneck:  F = BN(conv1x1(relu(BN(conv3x3(relu(BN(conv1x1(x))))))))    (three layers, 4x out)
and S the identity, or where the shape changes option "A" (stride-2 subsampling plus zero
channels, parameter-free, the paper's CIFAR choice) or option "B" (1x1 conv + BN).
A *plain* network drops S: y = relu(F(x)).  With the identity path, d y / d x = I + dF/dx, so
gradients reach early layers of very deep networks; plain networks lose them with depth.

Layouts:
  CIFAR-style (``resnet20/32/44/56/110``, ``plain20/...``): conv3x3(16) -> 3 stages of n blocks
  (16, 32, 64 channels, stride 2 between stages) -> global average pool -> Linear;
  depth = 6n + 2 (basic) or 9n + 2 (bottleneck).
  ImageNet-style (``resnet18/34/50``): conv7x7/2(64) -> maxpool3/2 -> 4 stages (64..512) ->
  average pool -> Linear; for inputs smaller than 64 pixels the stem is conv3x3/1 without
  the max pool (the usual adaptation), so digits and CIFAR images keep some resolution.
"""

from __future__ import annotations

import numpy as np

from .. import nn
from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..autograd.tensor import Tensor
from ..backend import xp_of
from ..ops.pooling import adaptive_avg_pool2d
from ..ops import layout_kernels, select_kernels
from ..ops.elementwise import _select, relu
from ..ops.shape import pad, reshape
from ..parallel import MIN_PARALLEL_ELEMENTS_CNN, for_ranges
from .cnn import ImageInput, image_shape
from .registry import register_model

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "resnet_cifar", "resnet_imagenet"]


class AddReluFn(Function):
    """The residual join y = max(a + b, 0) as one primitive (a, b of one shape): one temporary
    instead of two.  Backward: dL/da = dL/db = g [y > 0] (the mask is a constant), with PyTorch's
    threshold_backward at y = NaN (g passes) and where y <= 0 (an inf or NaN of g gives 0).  Large
    float arrays of one layout take the compiled select passes of mathdl/ops/select_kernels.py
    (NumPy's float maximum, and the mask's compare and product, each cost about 3x a plain pass):
    a 512K-entry join 263 -> 77 us forward on warm arrays; inside a step the joins are bound by
    memory bandwidth (a, b and y are 6 MB at 16 channels)."""

    __slots__ = ()
    save_output = True

    def forward(self, a, b):
        if (type(b) is np.ndarray and b.dtype == a.dtype and b.strides != a.strides and b.shape == a.shape
                and select_kernels.usable(a)):
            # the shortcut in the branch's layout first (a channel-major stem's output meeting a
            # channels-last Winograd branch): the join and every layer after it keep that layout
            b = _in_layout_of(a, b)
        if select_kernels.usable(a, b):  # one layout: one compiled pass
            return select_kernels.add_relu(a, b)
        y = a + b
        return xp_of(y).maximum(y, 0, out=y)

    def backward(self, g):
        ga = g.array
        if not is_grad_enabled() and select_kernels.usable(self.out):  # (create_graph: below)
            if type(ga) is np.ndarray and ga.dtype == self.out.dtype and ga.strides != self.out.strides:
                # g in y's layout first (a broadcast from the pooling, or C order): the gradient then
                # leaves in y's layout, and the joins above it receive theirs in the same layout
                ga = _in_layout_of(self.out, ga)
            if select_kernels.usable(self.out, ga):
                gm = Tensor._make(select_kernels.relu_backward(self.out, ga))
                return gm, gm
        gm = _select(~(self.out <= 0), g)  # an inf or NaN of g where y <= 0 gives 0, as in PyTorch
        return gm, gm


def _in_layout_of(ref, a):
    """A copy of a (broadcastable to ref's shape) with ref's memory layout, in slabs of its
    outermost axis in memory on mathdl's threads."""
    if ref.ndim == 4 and ref.transpose(0, 2, 3, 1).flags.c_contiguous and a.shape == ref.shape:
        return layout_kernels.to_nhwc(a).transpose(0, 3, 1, 2)  # into channels-last memory: compiled
    out = np.empty_like(ref)  # order "K": ref's strides
    perm = np.argsort([-st for st in out.strides], kind="stable")
    dst, src = out.transpose(perm), np.broadcast_to(a, ref.shape).transpose(perm)
    for_ranges(lambda lo, hi: np.copyto(dst[lo:hi], src[lo:hi]), dst.shape[0], 2 * out.size,
               min_work=MIN_PARALLEL_ELEMENTS_CNN, team=True)
    return out


def add_relu(a, b):
    """max(a + b, 0); a and b must have the same shape."""
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"add_relu: shapes {tuple(a.shape)} and {tuple(b.shape)} differ")
    return AddReluFn()(a, b)


class _ShortcutA(nn.Module):
    """Option A: x[:, :, ::s, ::s] with the new channels zero-padded (no parameters)."""

    def __init__(self, in_ch, out_ch, stride):
        super().__init__()
        self.extra, self.stride = out_ch - in_ch, stride

    def forward(self, x):
        if self.stride != 1:
            x = x[:, :, ::self.stride, ::self.stride]
        lo = self.extra // 2
        return pad(x, (0, 0, 0, 0, lo, self.extra - lo))


def _shortcut(kind, in_ch, out_ch, stride):
    if in_ch == out_ch and stride == 1:
        return None
    if kind == "A" and out_ch >= in_ch:
        return _ShortcutA(in_ch, out_ch, stride)
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm2d(out_ch))


class BasicBlock(nn.Module):
    """relu(BN(conv3x3(relu(BN(conv3x3(x))))) + shortcut(x)); ``residual=False`` drops the shortcut."""

    expansion = 1

    def __init__(self, in_ch, width, stride=1, residual=True, shortcut="A"):
        super().__init__()
        out = width * self.expansion
        self.conv1 = nn.Conv2d(in_ch, width, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out)
        self.residual = residual
        self.shortcut = _shortcut(shortcut, in_ch, out, stride) if residual else None

    def forward(self, x):  # bn + relu and add + relu run as fused primitives
        y = self.bn2(self.conv2(self.bn1.forward_relu(self.conv1(x))))
        if self.residual:
            return add_relu(y, x if self.shortcut is None else self.shortcut(x))
        return relu(y)


class Bottleneck(nn.Module):
    """relu(BN(conv1x1(relu(BN(conv3x3(relu(BN(conv1x1(x))))))) + shortcut(x)), out = 4 width."""

    expansion = 4

    def __init__(self, in_ch, width, stride=1, residual=True, shortcut="B"):
        super().__init__()
        out = width * self.expansion
        self.conv1 = nn.Conv2d(in_ch, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.residual = residual
        self.shortcut = _shortcut(shortcut, in_ch, out, stride) if residual else None

    def forward(self, x):
        y = self.bn1.forward_relu(self.conv1(x))
        y = self.bn2.forward_relu(self.conv2(y))
        y = self.bn3(self.conv3(y))
        if self.residual:
            return add_relu(y, x if self.shortcut is None else self.shortcut(x))
        return relu(y)


class ResNet(nn.Module):
    """stem -> stages of blocks -> global average pool -> Linear."""

    def __init__(self, in_shape, num_classes, block, layers, widths, stem="cifar", residual=True,
                 shortcut="A", upsample=1):
        super().__init__()
        self.input = ImageInput(in_shape, upsample)
        c, h, w = self.input.out_shape
        if stem == "imagenet":
            self.stem = nn.Sequential(nn.Conv2d(c, widths[0], 7, stride=2, padding=3, bias=False),
                                      nn.BatchNorm2d(widths[0]), nn.ReLU(), nn.MaxPool2d(3, 2, 1))
        else:
            self.stem = nn.Sequential(nn.Conv2d(c, widths[0], 3, padding=1, bias=False),
                                      nn.BatchNorm2d(widths[0]), nn.ReLU())
        blocks = []
        ch = widths[0]
        for i, (n, width) in enumerate(zip(layers, widths)):
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(block(ch, width, stride, residual, shortcut))
                ch = width * block.expansion
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(ch, int(num_classes))
        self.depth = sum(layers) * (3 if block is Bottleneck else 2) + 2
        self.residual = residual
        for m in self.modules():  # He et al.: kaiming-normal (fan_out) convs, BN gamma 1 beta 0
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.input(x)
        if len(self.stem) == 3 and isinstance(self.stem[1], nn.BatchNorm2d):  # conv, bn, relu: fused bn + relu
            y = self.blocks(self.stem[1].forward_relu(self.stem[0](x)))
        else:
            y = self.blocks(self.stem(x))
        y = adaptive_avg_pool2d(y, 1)
        return self.fc(reshape(y, (y.shape[0], y.shape[1])))


def resnet_cifar(spec, depth=20, block="basic", residual=True, width=16, shortcut="A", upsample=1):
    """CIFAR-style ResNet (or plain net): depth 6n+2 with basic blocks, 9n+2 with bottlenecks."""
    depth, width = int(depth), int(width)
    blk = Bottleneck if block == "bottleneck" else BasicBlock
    per = 9 if blk is Bottleneck else 6
    if depth < per + 2 or (depth - 2) % per:
        raise ValueError(f"resnet: depth {depth} must be {per}n + 2 for {block} blocks (e.g. "
                         f"{', '.join(str(per * n + 2) for n in (1, 3, 9))})")
    n = (depth - 2) // per
    return ResNet(image_shape(spec.input_shape), spec.num_classes, blk, (n, n, n), (width, 2 * width, 4 * width),
                  "cifar", _flag(residual), shortcut, int(upsample))


def resnet_imagenet(spec, layers=(2, 2, 2, 2), block="basic", width=64, residual=True, stem=None, upsample=1):
    """ImageNet-layout ResNet (resnet18: basic blocks (2, 2, 2, 2), widths 64..512)."""
    shape = image_shape(spec.input_shape)
    if stem is None:
        stem = "imagenet" if min(shape[1:]) * int(upsample) >= 64 else "cifar"
    blk = Bottleneck if block == "bottleneck" else BasicBlock
    width = int(width)
    return ResNet(shape, spec.num_classes, blk, tuple(int(v) for v in layers),
                  (width, 2 * width, 4 * width, 8 * width), stem, _flag(residual),
                  "B", int(upsample))


def _flag(v):
    return v if isinstance(v, bool) else str(v).lower() in ("1", "true", "yes")


def _register_cifar(name, depth, residual):
    def build(spec, width=16, shortcut="A", upsample=1, block="basic"):
        return resnet_cifar(spec, depth, block, residual, width, shortcut, upsample)

    kind = "ResNet" if residual else "Plain network (no skips)"
    build.__doc__ = f"{kind}-{depth}, CIFAR layout: 3 stages x {(depth - 2) // 6} basic blocks, 16/32/64 channels."
    register_model(name)(build)


for _d in (8, 20, 32, 44, 56, 110):
    _register_cifar(f"resnet{_d}", _d, True)
    _register_cifar(f"plain{_d}", _d, False)


@register_model("resnet")
def build_resnet(spec, depth=20, block="basic", residual=True, width=16, shortcut="A", upsample=1):
    """CIFAR-style ResNet of any depth (6n+2 basic / 9n+2 bottleneck); residual=false for plain."""
    return resnet_cifar(spec, depth, block, residual, width, shortcut, upsample)


@register_model("resnet18")
def build_resnet18(spec, width=64, stem=None, upsample=1):
    """ResNet-18, ImageNet layout: basic blocks (2, 2, 2, 2), 64/128/256/512 channels."""
    return resnet_imagenet(spec, (2, 2, 2, 2), "basic", width, True, stem, upsample)


@register_model("resnet34")
def build_resnet34(spec, width=64, stem=None, upsample=1):
    """ResNet-34, ImageNet layout: basic blocks (3, 4, 6, 3)."""
    return resnet_imagenet(spec, (3, 4, 6, 3), "basic", width, True, stem, upsample)


@register_model("resnet50")
def build_resnet50(spec, width=64, stem=None, upsample=1):
    """ResNet-50, ImageNet layout: bottleneck blocks (3, 4, 6, 3), output 4x width."""
    return resnet_imagenet(spec, (3, 4, 6, 3), "bottleneck", width, True, stem, upsample)
