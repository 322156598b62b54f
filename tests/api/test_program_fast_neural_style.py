# ruff: noqa: UP008, N803, N806, UP032  (the public example's own idioms, kept as written)
"""PyTorch's examples/fast_neural_style runs on mathdl with only the import and the data changed.

Kept: ``transformer_net.py`` (``ConvLayer`` with ``ReflectionPad2d``, ``ResidualBlock``,
``UpsampleConvLayer`` with ``F.interpolate(x_in, mode='nearest', scale_factor=...)``,
``InstanceNorm2d(affine=True)``), ``vgg.py``'s ``Vgg16`` (four ``nn.Sequential`` slices filled with
``add_module``, frozen with ``param.requires_grad = False``, a ``namedtuple`` of activations),
``utils.gram_matrix`` (``features.bmm(features_t) / (ch * h * w)``) and ``utils.normalize_batch``
(``batch.new_tensor(...)``, the in-place ``batch.div_(255.0)`` on the transformer's output inside
the graph), and the training loop (Adam, MSELoss content and style losses, ``style.repeat``,
``gm_s[:n_batch, :, :]``).  Changed: torchvision's pretrained VGG-16 becomes the same layer layout
(torchvision's ``make_layers`` for configuration "D") with narrow widths and seeded random weights,
the COCO images become random 16x16 images, and the epochs are few.  The run is deterministic given
the weights and is compared with PyTorch's.
"""

from collections import namedtuple

import numpy as np
import pytest

import mathdl

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of this parity test")


def fast_neural_style(torch, steps=3, copy_from=None):
    log = []

    # ---- transformer_net.py
    class TransformerNet(torch.nn.Module):
        def __init__(self):
            super(TransformerNet, self).__init__()
            # Initial convolution layers
            self.conv1 = ConvLayer(3, 32, kernel_size=9, stride=1)
            self.in1 = torch.nn.InstanceNorm2d(32, affine=True)
            self.conv2 = ConvLayer(32, 64, kernel_size=3, stride=2)
            self.in2 = torch.nn.InstanceNorm2d(64, affine=True)
            self.conv3 = ConvLayer(64, 128, kernel_size=3, stride=2)
            self.in3 = torch.nn.InstanceNorm2d(128, affine=True)
            # Residual layers
            self.res1 = ResidualBlock(128)
            self.res2 = ResidualBlock(128)
            self.res3 = ResidualBlock(128)
            self.res4 = ResidualBlock(128)
            self.res5 = ResidualBlock(128)
            # Upsampling Layers
            self.deconv1 = UpsampleConvLayer(128, 64, kernel_size=3, stride=1, upsample=2)
            self.in4 = torch.nn.InstanceNorm2d(64, affine=True)
            self.deconv2 = UpsampleConvLayer(64, 32, kernel_size=3, stride=1, upsample=2)
            self.in5 = torch.nn.InstanceNorm2d(32, affine=True)
            self.deconv3 = ConvLayer(32, 3, kernel_size=9, stride=1)
            # Non-linearities
            self.relu = torch.nn.ReLU()

        def forward(self, X):
            y = self.relu(self.in1(self.conv1(X)))
            y = self.relu(self.in2(self.conv2(y)))
            y = self.relu(self.in3(self.conv3(y)))
            y = self.res1(y)
            y = self.res2(y)
            y = self.res3(y)
            y = self.res4(y)
            y = self.res5(y)
            y = self.relu(self.in4(self.deconv1(y)))
            y = self.relu(self.in5(self.deconv2(y)))
            y = self.deconv3(y)
            return y

    class ConvLayer(torch.nn.Module):
        def __init__(self, in_channels, out_channels, kernel_size, stride):
            super(ConvLayer, self).__init__()
            reflection_padding = kernel_size // 2
            self.reflection_pad = torch.nn.ReflectionPad2d(reflection_padding)
            self.conv2d = torch.nn.Conv2d(in_channels, out_channels, kernel_size, stride)

        def forward(self, x):
            out = self.reflection_pad(x)
            out = self.conv2d(out)
            return out

    class ResidualBlock(torch.nn.Module):
        """ResidualBlock
        introduced in: https://arxiv.org/abs/1512.03385
        recommended architecture: http://torch.ch/blog/2016/02/04/resnets.html
        """

        def __init__(self, channels):
            super(ResidualBlock, self).__init__()
            self.conv1 = ConvLayer(channels, channels, kernel_size=3, stride=1)
            self.in1 = torch.nn.InstanceNorm2d(channels, affine=True)
            self.conv2 = ConvLayer(channels, channels, kernel_size=3, stride=1)
            self.in2 = torch.nn.InstanceNorm2d(channels, affine=True)
            self.relu = torch.nn.ReLU()

        def forward(self, x):
            residual = x
            out = self.relu(self.in1(self.conv1(x)))
            out = self.in2(self.conv2(out))
            out = out + residual
            return out

    class UpsampleConvLayer(torch.nn.Module):
        """UpsampleConvLayer
        Upsamples the input and then does a convolution. This method gives better results
        compared to ConvTranspose2d.
        ref: http://distill.pub/2016/deconv-checkerboard/
        """

        def __init__(self, in_channels, out_channels, kernel_size, stride, upsample=None):
            super(UpsampleConvLayer, self).__init__()
            self.upsample = upsample
            reflection_padding = kernel_size // 2
            self.reflection_pad = torch.nn.ReflectionPad2d(reflection_padding)
            self.conv2d = torch.nn.Conv2d(in_channels, out_channels, kernel_size, stride)

        def forward(self, x):
            x_in = x
            if self.upsample:
                x_in = torch.nn.functional.interpolate(x_in, mode='nearest', scale_factor=self.upsample)
            out = self.reflection_pad(x_in)
            out = self.conv2d(out)
            return out

    # ---- vgg.py (torchvision's vgg16().features layout -- make_layers(cfg "D") -- at 1/8 width)
    def vgg16_features():
        layers, in_channels = [], 3
        for v in [8, 8, "M", 16, 16, "M", 32, 32, 32, "M", 64, 64, 64, "M", 64, 64, 64, "M"]:
            if v == "M":
                layers += [torch.nn.MaxPool2d(kernel_size=2, stride=2)]
            else:
                layers += [torch.nn.Conv2d(in_channels, v, kernel_size=3, padding=1), torch.nn.ReLU(inplace=True)]
                in_channels = v
        return torch.nn.Sequential(*layers)

    class Vgg16(torch.nn.Module):
        def __init__(self, requires_grad=False):
            super(Vgg16, self).__init__()
            vgg_pretrained_features = vgg16_features()
            self.slice1 = torch.nn.Sequential()
            self.slice2 = torch.nn.Sequential()
            self.slice3 = torch.nn.Sequential()
            self.slice4 = torch.nn.Sequential()
            for x in range(4):
                self.slice1.add_module(str(x), vgg_pretrained_features[x])
            for x in range(4, 9):
                self.slice2.add_module(str(x), vgg_pretrained_features[x])
            for x in range(9, 16):
                self.slice3.add_module(str(x), vgg_pretrained_features[x])
            for x in range(16, 23):
                self.slice4.add_module(str(x), vgg_pretrained_features[x])
            if not requires_grad:
                for param in self.parameters():
                    param.requires_grad = False

        def forward(self, X):
            h = self.slice1(X)
            h_relu1_2 = h
            h = self.slice2(h)
            h_relu2_2 = h
            h = self.slice3(h)
            h_relu3_3 = h
            h = self.slice4(h)
            h_relu4_3 = h
            vgg_outputs = namedtuple("VggOutputs", ['relu1_2', 'relu2_2', 'relu3_3', 'relu4_3'])
            out = vgg_outputs(h_relu1_2, h_relu2_2, h_relu3_3, h_relu4_3)
            return out

    # ---- utils.py
    def gram_matrix(y):
        (b, ch, h, w) = y.size()
        features = y.view(b, ch, w * h)
        features_t = features.transpose(1, 2)
        gram = features.bmm(features_t) / (ch * h * w)
        return gram

    def normalize_batch(batch):
        # normalize using imagenet mean and std
        mean = batch.new_tensor([0.485, 0.456, 0.406]).view(-1, 1, 1)
        std = batch.new_tensor([0.229, 0.224, 0.225]).view(-1, 1, 1)
        batch = batch.div_(255.0)
        return (batch - mean) / std

    # ---- neural_style.py train() (--batch-size 2 --content-weight 1e5 --style-weight 1e10 --lr 1e-3)
    class Args:
        batch_size, content_weight, style_weight, lr, seed, log_interval = 2, 1e5, 1e10, 1e-3, 42, 1
    args = Args()
    device = torch.device("cpu")
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)

    rng = np.random.default_rng(0)  # the data: COCO images and the style image, made here (values 0..255)
    images = torch.tensor((rng.random((steps * args.batch_size, 3, 16, 16)) * 255).astype(np.float32))
    train_loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, torch.zeros(len(images))),
                                               batch_size=args.batch_size)

    transformer = TransformerNet().to(device)
    vgg = Vgg16(requires_grad=False).to(device)
    if copy_from is not None:  # (test only: the other library's initial weights)
        transformer.load_state_dict({k: torch.tensor(v) for k, v in copy_from[0].items()})
        vgg.load_state_dict({k: torch.tensor(v) for k, v in copy_from[1].items()})
    initial = [{k: v.detach().numpy().copy() for k, v in m.state_dict().items()} for m in (transformer, vgg)]
    optimizer = torch.optim.Adam(transformer.parameters(), args.lr)
    mse_loss = torch.nn.MSELoss()

    style = torch.tensor((np.stack([np.linspace(0, 255, 16)] * 16)[None] * np.ones((3, 1, 1))).astype(np.float32))
    style = style.repeat(args.batch_size, 1, 1, 1).to(device)

    features_style = vgg(normalize_batch(style))
    gram_style = [gram_matrix(y) for y in features_style]

    losses = []
    for e in range(1):
        transformer.train()
        agg_content_loss = 0.
        agg_style_loss = 0.
        count = 0
        for batch_id, (x, _) in enumerate(train_loader):
            n_batch = len(x)
            count += n_batch
            optimizer.zero_grad()

            x = x.to(device)
            y = transformer(x)

            y = normalize_batch(y)
            x = normalize_batch(x)

            features_y = vgg(y)
            features_x = vgg(x)

            content_loss = args.content_weight * mse_loss(features_y.relu2_2, features_x.relu2_2)

            style_loss = 0.
            for ft_y, gm_s in zip(features_y, gram_style):
                gm_y = gram_matrix(ft_y)
                style_loss += mse_loss(gm_y, gm_s[:n_batch, :, :])
            style_loss *= args.style_weight

            total_loss = content_loss + style_loss
            total_loss.backward()
            optimizer.step()

            agg_content_loss += content_loss.item()
            agg_style_loss += style_loss.item()
            losses.append((content_loss.item(), style_loss.item()))

            if (batch_id + 1) % args.log_interval == 0:
                log.append("Epoch {}:\t[{}/{}]\tcontent: {:.6f}\tstyle: {:.6f}\ttotal: {:.6f}".format(
                    e + 1, count, len(images), agg_content_loss / (batch_id + 1), agg_style_loss / (batch_id + 1),
                    (agg_content_loss + agg_style_loss) / (batch_id + 1)))
    frozen = all(not p.requires_grad and p.grad is None for p in vgg.parameters())
    return initial, losses, log, frozen


def test_fast_neural_style_trains():
    _, losses, log, frozen = fast_neural_style(mathdl, steps=4)
    assert np.all(np.isfinite(losses)) and frozen  # VGG frozen: no gradient reaches it
    assert sum(losses[-1]) < sum(losses[0]) and log[-1].startswith("Epoch 1:\t[8/8]\tcontent: ")


def test_fast_neural_style_matches_pytorch():
    init, ours, _, _ = fast_neural_style(mathdl)
    _, theirs, _, _ = fast_neural_style(torch, copy_from=init)
    np.testing.assert_allclose(ours, theirs, rtol=2e-4)


def test_in_place_div_on_a_graph_output():
    # normalize_batch's batch.div_(255.0) on the transformer's output: gradients flow through it, as PyTorch
    grads = []
    for lib in (mathdl, torch):
        w = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = w * 2.0
        y.div_(4.0)
        (y * y).sum().backward()
        grads.append(w.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-7)
