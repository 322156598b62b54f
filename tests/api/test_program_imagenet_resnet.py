# ruff: noqa: UP008, UP004, UP031, UP032, E501, N806  (the public programs' own idioms, kept as written)
"""torchvision's ResNet code with PyTorch's examples/imagenet/main.py loop runs on mathdl.

``torchvision/models/resnet.py`` is transcribed (``conv3x3`` with ``groups``/``dilation``,
``conv1x1``, ``BasicBlock``, ``Bottleneck`` with ``width = int(planes * (base_width / 64.0)) *
groups``, ``ResNet`` with the 7x7 stem, ``MaxPool2d(3, 2, 1)``, ``_make_layer`` with a ``downsample``
Sequential and ``replace_stride_with_dilation``, ``AdaptiveAvgPool2d((1, 1))``, ``torch.flatten``,
``kaiming_normal_(mode="fan_out", nonlinearity="relu")``, ``constant_`` and ``zero_init_residual``;
resnet18, resnet50, resnext50_32x4d and wide_resnet50_2 at full width), and so is the imagenet
example's ``main_worker``/``train``/``validate`` (``AverageMeter`` holding 0-d tensors formatted
with ``'{val:6.2f}'``, ``ProgressMeter``, ``accuracy`` with ``output.topk(maxk, 1, True, True)``,
``pred.t()``, ``expand_as``, ``correct[:k].reshape(-1).float().sum(0, keepdim=True)``,
``mul_(100.0 / batch_size)``; SGD with StepLR; ``best_acc1 = max(acc1, best_acc1)`` on tensors;
``save_checkpoint`` with ``shutil.copyfile``; ``--resume`` restoring model, optimizer and
scheduler).  Changed: ``--dummy``'s FakeData (3x224x224, 1.28M images) becomes 8 images of 3x32x32
made here, the architecture is ``resnet10`` (torchvision's ResNet with one BasicBlock a stage, for
time), and the files go to pytest's tmp_path.  The run is compared with PyTorch's from the same
initial weights in float64 (one batch an epoch, so the shuffled order changes no loss).
"""

import os
import shutil
import time
from enum import Enum
from functools import partial

import numpy as np
import pytest

import mathdl

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of this parity test")


def torchvision_resnet(torch):
    """torchvision/models/resnet.py on the library ``torch`` (the model builders without weights)."""
    nn = torch.nn

    def conv3x3(in_planes, out_planes, stride=1, groups=1, dilation=1):
        """3x3 convolution with padding"""
        return nn.Conv2d(
            in_planes,
            out_planes,
            kernel_size=3,
            stride=stride,
            padding=dilation,
            groups=groups,
            bias=False,
            dilation=dilation,
        )

    def conv1x1(in_planes, out_planes, stride=1):
        """1x1 convolution"""
        return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)

    class BasicBlock(nn.Module):
        expansion: int = 1

        def __init__(
            self,
            inplanes,
            planes,
            stride=1,
            downsample=None,
            groups=1,
            base_width=64,
            dilation=1,
            norm_layer=None,
        ):
            super().__init__()
            if norm_layer is None:
                norm_layer = nn.BatchNorm2d
            if groups != 1 or base_width != 64:
                raise ValueError("BasicBlock only supports groups=1 and base_width=64")
            if dilation > 1:
                raise NotImplementedError("Dilation > 1 not supported in BasicBlock")
            # Both self.conv1 and self.downsample layers downsample the input when stride != 1
            self.conv1 = conv3x3(inplanes, planes, stride)
            self.bn1 = norm_layer(planes)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = conv3x3(planes, planes)
            self.bn2 = norm_layer(planes)
            self.downsample = downsample
            self.stride = stride

        def forward(self, x):
            identity = x

            out = self.conv1(x)
            out = self.bn1(out)
            out = self.relu(out)

            out = self.conv2(out)
            out = self.bn2(out)

            if self.downsample is not None:
                identity = self.downsample(x)

            out += identity
            out = self.relu(out)

            return out

    class Bottleneck(nn.Module):
        # Bottleneck in torchvision places the stride for downsampling at 3x3 convolution(self.conv2)
        # while original implementation places the stride at the first 1x1 convolution(self.conv1)
        # according to "Deep residual learning for image recognition" https://arxiv.org/abs/1512.03385.
        # This variant is also known as ResNet V1.5 and improves accuracy according to
        # https://ngc.nvidia.com/catalog/model-scripts/nvidia:resnet_50_v1_5_for_pytorch.

        expansion: int = 4

        def __init__(
            self,
            inplanes,
            planes,
            stride=1,
            downsample=None,
            groups=1,
            base_width=64,
            dilation=1,
            norm_layer=None,
        ):
            super().__init__()
            if norm_layer is None:
                norm_layer = nn.BatchNorm2d
            width = int(planes * (base_width / 64.0)) * groups
            # Both self.conv2 and self.downsample layers downsample the input when stride != 1
            self.conv1 = conv1x1(inplanes, width)
            self.bn1 = norm_layer(width)
            self.conv2 = conv3x3(width, width, stride, groups, dilation)
            self.bn2 = norm_layer(width)
            self.conv3 = conv1x1(width, planes * self.expansion)
            self.bn3 = norm_layer(planes * self.expansion)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = downsample
            self.stride = stride

        def forward(self, x):
            identity = x

            out = self.conv1(x)
            out = self.bn1(out)
            out = self.relu(out)

            out = self.conv2(out)
            out = self.bn2(out)
            out = self.relu(out)

            out = self.conv3(out)
            out = self.bn3(out)

            if self.downsample is not None:
                identity = self.downsample(x)

            out += identity
            out = self.relu(out)

            return out

    class ResNet(nn.Module):
        def __init__(
            self,
            block,
            layers,
            num_classes=1000,
            zero_init_residual=False,
            groups=1,
            width_per_group=64,
            replace_stride_with_dilation=None,
            norm_layer=None,
        ):
            super().__init__()
            if norm_layer is None:
                norm_layer = nn.BatchNorm2d
            self._norm_layer = norm_layer

            self.inplanes = 64
            self.dilation = 1
            if replace_stride_with_dilation is None:
                # each element in the tuple indicates if we should replace
                # the 2x2 stride with a dilated convolution instead
                replace_stride_with_dilation = [False, False, False]
            if len(replace_stride_with_dilation) != 3:
                raise ValueError(
                    "replace_stride_with_dilation should be None "
                    f"or a 3-element tuple, got {replace_stride_with_dilation}"
                )
            self.groups = groups
            self.base_width = width_per_group
            self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
            self.bn1 = norm_layer(self.inplanes)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
            self.layer1 = self._make_layer(block, 64, layers[0])
            self.layer2 = self._make_layer(block, 128, layers[1], stride=2, dilate=replace_stride_with_dilation[0])
            self.layer3 = self._make_layer(block, 256, layers[2], stride=2, dilate=replace_stride_with_dilation[1])
            self.layer4 = self._make_layer(block, 512, layers[3], stride=2, dilate=replace_stride_with_dilation[2])
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(512 * block.expansion, num_classes)

            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)

            # Zero-initialize the last BN in each residual branch,
            # so that the residual branch starts with zeros, and each residual block behaves like an identity.
            # This improves the model by 0.2~0.3% according to https://arxiv.org/abs/1706.02677
            if zero_init_residual:
                for m in self.modules():
                    if isinstance(m, Bottleneck) and m.bn3.weight is not None:
                        nn.init.constant_(m.bn3.weight, 0)  # type: ignore[arg-type]
                    elif isinstance(m, BasicBlock) and m.bn2.weight is not None:
                        nn.init.constant_(m.bn2.weight, 0)  # type: ignore[arg-type]

        def _make_layer(
            self,
            block,
            planes,
            blocks,
            stride=1,
            dilate=False,
        ):
            norm_layer = self._norm_layer
            downsample = None
            previous_dilation = self.dilation
            if dilate:
                self.dilation *= stride
                stride = 1
            if stride != 1 or self.inplanes != planes * block.expansion:
                downsample = nn.Sequential(
                    conv1x1(self.inplanes, planes * block.expansion, stride),
                    norm_layer(planes * block.expansion),
                )

            layers = []
            layers.append(
                block(
                    self.inplanes, planes, stride, downsample, self.groups, self.base_width, previous_dilation, norm_layer
                )
            )
            self.inplanes = planes * block.expansion
            for _ in range(1, blocks):
                layers.append(
                    block(
                        self.inplanes,
                        planes,
                        groups=self.groups,
                        base_width=self.base_width,
                        dilation=self.dilation,
                        norm_layer=norm_layer,
                    )
                )

            return nn.Sequential(*layers)

        def _forward_impl(self, x):
            # See note [TorchScript super()]
            x = self.conv1(x)
            x = self.bn1(x)
            x = self.relu(x)
            x = self.maxpool(x)

            x = self.layer1(x)
            x = self.layer2(x)
            x = self.layer3(x)
            x = self.layer4(x)

            x = self.avgpool(x)
            x = torch.flatten(x, 1)
            x = self.fc(x)

            return x

        def forward(self, x):
            return self._forward_impl(x)

    def _resnet(block, layers, weights, progress, **kwargs):
        model = ResNet(block, layers, **kwargs)
        return model

    def resnet18(*, weights=None, progress=True, **kwargs):
        return _resnet(BasicBlock, [2, 2, 2, 2], weights, progress, **kwargs)

    def resnet10(*, weights=None, progress=True, **kwargs):  # (not torchvision's: resnet18 with one block a stage)
        return _resnet(BasicBlock, [1, 1, 1, 1], weights, progress, **kwargs)

    def resnet50(*, weights=None, progress=True, **kwargs):
        return _resnet(Bottleneck, [3, 4, 6, 3], weights, progress, **kwargs)

    def resnext50_32x4d(*, weights=None, progress=True, **kwargs):
        kwargs["groups"] = 32
        kwargs["width_per_group"] = 4
        return _resnet(Bottleneck, [3, 4, 6, 3], weights, progress, **kwargs)

    def wide_resnet50_2(*, weights=None, progress=True, **kwargs):
        kwargs["width_per_group"] = 64 * 2
        return _resnet(Bottleneck, [3, 4, 6, 3], weights, progress, **kwargs)

    return dict(resnet10=resnet10, resnet18=resnet18, resnet50=resnet50, resnext50_32x4d=resnext50_32x4d,
                wide_resnet50_2=wide_resnet50_2, ResNet=ResNet, BasicBlock=BasicBlock, Bottleneck=Bottleneck)


class FakeData:
    """torchvision's FakeData(size, image_size, num_classes, ToTensor()): images in [0, 1]."""

    def __init__(self, size, image_size, num_classes, seed, dtype):
        rng = np.random.default_rng(seed)
        self.images = rng.random((size,) + image_size).astype(dtype)
        self.targets = rng.integers(0, num_classes, size=size)

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i], int(self.targets[i])


def imagenet_main(torch, folder, epochs=2, resume='', dtype=np.float32, copy_from=None):
    nn = torch.nn
    StepLR = torch.optim.lr_scheduler.StepLR
    models = torchvision_resnet(torch)
    log, history = [], {"train": [], "acc1": []}

    def print(*args):  # the example prints; the test keeps the lines
        log.append(" ".join(str(a) for a in args))

    class Args:  # --arch resnet10 --dummy -b 8 --lr 0.1 --epochs N [--resume PATH]
        arch, workers, start_epoch, batch_size, lr, momentum, weight_decay = 'resnet10', 0, 0, 8, 0.1, 0.9, 1e-4
        print_freq, evaluate, pretrained, gpu, distributed, dummy = 1, False, False, None, False, True
        multiprocessing_distributed, world_size, rank = False, 1, 0
    args = Args()
    args.epochs, args.resume = epochs, resume

    class Summary(Enum):
        NONE = 0
        AVERAGE = 1
        SUM = 2
        COUNT = 3

    class AverageMeter(object):
        """Computes and stores the average and current value"""
        def __init__(self, name, fmt=':f', summary_type=Summary.AVERAGE):
            self.name = name
            self.fmt = fmt
            self.summary_type = summary_type
            self.reset()

        def reset(self):
            self.val = 0
            self.avg = 0
            self.sum = 0
            self.count = 0

        def update(self, val, n=1):
            self.val = val
            self.sum += val * n
            self.count += n
            self.avg = self.sum / self.count

        def __str__(self):
            fmtstr = '{name} {val' + self.fmt + '} ({avg' + self.fmt + '})'
            return fmtstr.format(**self.__dict__)

        def summary(self):
            fmtstr = ''
            if self.summary_type is Summary.NONE:
                fmtstr = ''
            elif self.summary_type is Summary.AVERAGE:
                fmtstr = '{name} {avg:.3f}'
            elif self.summary_type is Summary.SUM:
                fmtstr = '{name} {sum:.3f}'
            elif self.summary_type is Summary.COUNT:
                fmtstr = '{name} {count:.3f}'
            else:
                raise ValueError('invalid summary type %r' % self.summary_type)

            return fmtstr.format(**self.__dict__)

    class ProgressMeter(object):
        def __init__(self, num_batches, meters, prefix=""):
            self.batch_fmtstr = self._get_batch_fmtstr(num_batches)
            self.meters = meters
            self.prefix = prefix

        def display(self, batch):
            entries = [self.prefix + self.batch_fmtstr.format(batch)]
            entries += [str(meter) for meter in self.meters]
            print('\t'.join(entries))

        def display_summary(self):
            entries = [" *"]
            entries += [meter.summary() for meter in self.meters]
            print(' '.join(entries))

        def _get_batch_fmtstr(self, num_batches):
            num_digits = len(str(num_batches // 1))
            fmt = '{:' + str(num_digits) + 'd}'
            return '[' + fmt + '/' + fmt.format(num_batches) + ']'

    def accuracy(output, target, topk=(1,)):
        """Computes the accuracy over the k top predictions for the specified values of k"""
        with torch.no_grad():
            maxk = max(topk)
            batch_size = target.size(0)

            _, pred = output.topk(maxk, 1, True, True)
            pred = pred.t()
            correct = pred.eq(target.view(1, -1).expand_as(pred))

            res = []
            for k in topk:
                correct_k = correct[:k].reshape(-1).float().sum(0, keepdim=True)
                res.append(correct_k.mul_(100.0 / batch_size))
            return res

    def train(train_loader, model, criterion, optimizer, epoch, device, args):
        batch_time = AverageMeter('Time', ':6.3f')
        data_time = AverageMeter('Data', ':6.3f')
        losses = AverageMeter('Loss', ':.4e')
        top1 = AverageMeter('Acc@1', ':6.2f')
        top5 = AverageMeter('Acc@5', ':6.2f')
        progress = ProgressMeter(
            len(train_loader),
            [batch_time, data_time, losses, top1, top5],
            prefix="Epoch: [{}]".format(epoch))

        # switch to train mode
        model.train()

        end = time.time()
        for i, (images, target) in enumerate(train_loader):
            # measure data loading time
            data_time.update(time.time() - end)

            # move data to the same device as model
            images = images.to(device, non_blocking=True)
            target = target.to(device, non_blocking=True)

            # compute output
            output = model(images)
            loss = criterion(output, target)

            # measure accuracy and record loss
            acc1, acc5 = accuracy(output, target, topk=(1, 5))
            losses.update(loss.item(), images.size(0))
            top1.update(acc1[0], images.size(0))
            top5.update(acc5[0], images.size(0))
            history["train"].append(loss.item())

            # compute gradient and do SGD step
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

            # measure elapsed time
            batch_time.update(time.time() - end)
            end = time.time()

            if i % args.print_freq == 0:
                progress.display(i + 1)

    def validate(val_loader, model, criterion, args):

        def run_validate(loader, base_progress=0):
            with torch.no_grad():
                end = time.time()
                for i, (images, target) in enumerate(loader):
                    i = base_progress + i
                    if args.gpu is not None and torch.cuda.is_available():
                        images = images.cuda(args.gpu, non_blocking=True)
                    if torch.backends.mps.is_available():
                        images = images.to('mps')
                        target = target.to('mps')
                    if torch.cuda.is_available():
                        target = target.cuda(args.gpu, non_blocking=True)

                    # compute output
                    output = model(images)
                    loss = criterion(output, target)

                    # measure accuracy and record loss
                    acc1, acc5 = accuracy(output, target, topk=(1, 5))
                    losses.update(loss.item(), images.size(0))
                    top1.update(acc1[0], images.size(0))
                    top5.update(acc5[0], images.size(0))

                    # measure elapsed time
                    batch_time.update(time.time() - end)
                    end = time.time()

                    if i % args.print_freq == 0:
                        progress.display(i + 1)

        batch_time = AverageMeter('Time', ':6.3f', Summary.NONE)
        losses = AverageMeter('Loss', ':.4e', Summary.NONE)
        top1 = AverageMeter('Acc@1', ':6.2f', Summary.AVERAGE)
        top5 = AverageMeter('Acc@5', ':6.2f', Summary.AVERAGE)
        progress = ProgressMeter(
            len(val_loader) + (args.distributed and (len(val_loader.sampler) * args.world_size < len(val_loader.dataset))),
            [batch_time, losses, top1, top5],
            prefix='Test: ')

        # switch to evaluate mode
        model.eval()

        run_validate(val_loader)

        progress.display_summary()

        return top1.avg

    def save_checkpoint(state, is_best, filename='checkpoint.pth.tar'):
        torch.save(state, filename)
        if is_best:
            shutil.copyfile(filename, os.path.join(folder, 'model_best.pth.tar'))

    # ---- main_worker (single process, no GPU)
    best_acc1 = 0
    print("=> creating model '{}'".format(args.arch))
    model = models[args.arch]()
    if dtype == np.float64:  # (test only: the comparison with PyTorch runs in float64)
        model.double()
    if copy_from is not None:  # (test only: the other library's initial weights)
        model.load_state_dict({k: torch.tensor(v) for k, v in copy_from.items()})
    initial = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}

    if not torch.cuda.is_available() and not torch.backends.mps.is_available():
        print('using CPU, this will be slow')

    if torch.cuda.is_available():
        if args.gpu:
            device = torch.device('cuda:{}'.format(args.gpu))
        else:
            device = torch.device("cuda")
    elif torch.backends.mps.is_available():
        device = torch.device("mps")
    else:
        device = torch.device("cpu")
    # define loss function (criterion), optimizer, and learning rate scheduler
    criterion = nn.CrossEntropyLoss().to(device)

    optimizer = torch.optim.SGD(model.parameters(), args.lr,
                                momentum=args.momentum,
                                weight_decay=args.weight_decay)

    """Sets the learning rate to the initial LR decayed by 10 every 30 epochs"""
    scheduler = StepLR(optimizer, step_size=30, gamma=0.1)

    # optionally resume from a checkpoint
    if args.resume:
        if os.path.isfile(args.resume):
            print("=> loading checkpoint '{}'".format(args.resume))
            if args.gpu is None:
                checkpoint = torch.load(args.resume)
            elif torch.cuda.is_available():
                # Map model to be loaded to specified single gpu.
                loc = 'cuda:{}'.format(args.gpu)
                checkpoint = torch.load(args.resume, map_location=loc)
            args.start_epoch = checkpoint['epoch']
            best_acc1 = checkpoint['best_acc1']
            if args.gpu is not None:
                # best_acc1 may be from a checkpoint from a different GPU
                best_acc1 = best_acc1.to(args.gpu)
            model.load_state_dict(checkpoint['state_dict'])
            optimizer.load_state_dict(checkpoint['optimizer'])
            scheduler.load_state_dict(checkpoint['scheduler'])
            print("=> loaded checkpoint '{}' (epoch {})"
                  .format(args.resume, checkpoint['epoch']))
        else:
            print("=> no checkpoint found at '{}'".format(args.resume))

    # Data loading code
    if args.dummy:
        print("=> Dummy data is used!")
        train_dataset = FakeData(8, (3, 32, 32), 1000, seed=0, dtype=dtype)
        val_dataset = FakeData(8, (3, 32, 32), 1000, seed=1, dtype=dtype)

    train_sampler = None
    val_sampler = None

    train_loader = torch.utils.data.DataLoader(
        train_dataset, batch_size=args.batch_size, shuffle=(train_sampler is None),
        num_workers=args.workers, pin_memory=True, sampler=train_sampler)

    val_loader = torch.utils.data.DataLoader(
        val_dataset, batch_size=args.batch_size, shuffle=False,
        num_workers=args.workers, pin_memory=True, sampler=val_sampler)

    for epoch in range(args.start_epoch, args.epochs):

        # train for one epoch
        train(train_loader, model, criterion, optimizer, epoch, device, args)

        # evaluate on validation set
        acc1 = validate(val_loader, model, criterion, args)
        history["acc1"].append(float(acc1))

        scheduler.step()

        # remember best acc@1 and save checkpoint
        is_best = acc1 > best_acc1
        best_acc1 = max(acc1, best_acc1)

        save_checkpoint({
            'epoch': epoch + 1,
            'arch': args.arch,
            'state_dict': model.state_dict(),
            'best_acc1': best_acc1,
            'optimizer' : optimizer.state_dict(),
            'scheduler' : scheduler.state_dict()
        }, is_best, filename=os.path.join(folder, 'checkpoint.pth.tar'))
    return initial, history, log, model


def test_imagenet_example_trains_checkpoints_and_resumes(tmp_path):
    mathdl.manual_seed(0)
    _, history, log, _ = imagenet_main(mathdl, str(tmp_path), epochs=1)
    assert len(history["train"]) == 1 and np.all(np.isfinite(history["train"]))
    assert log[:3] == ["=> creating model 'resnet10'", "using CPU, this will be slow", "=> Dummy data is used!"]
    # the meters format 0-d tensors: 'Acc@1   0.00 (  0.00)'
    assert log[3].startswith("Epoch: [0][1/1]\tTime ") and "\tAcc@1 " in log[3] and "\tAcc@5 " in log[3]
    assert log[5].split()[0] == "*" and "Acc@1" in log[5] and "Acc@5" in log[5]
    ckpt = mathdl.load(tmp_path / 'checkpoint.pth.tar')
    assert ckpt['epoch'] == 1 and ckpt['arch'] == 'resnet10' and len(ckpt['optimizer']['param_groups']) == 1
    assert isinstance(ckpt['best_acc1'], mathdl.Tensor) and ckpt['scheduler']['last_epoch'] == 1
    # --resume: model, optimizer (momentum buffers) and scheduler come back, epochs count on
    _, resumed, log, model = imagenet_main(mathdl, str(tmp_path), epochs=2,
                                           resume=str(tmp_path / 'checkpoint.pth.tar'))
    assert log[3] == f"=> loaded checkpoint '{tmp_path / 'checkpoint.pth.tar'}' (epoch 1)"
    assert len(resumed["train"]) == 1
    assert mathdl.load(tmp_path / 'checkpoint.pth.tar')['scheduler']['last_epoch'] == 2


@pytest.mark.filterwarnings("ignore:'pin_memory' argument")
def test_imagenet_example_matches_pytorch(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    init, ours, _, _ = imagenet_main(mathdl, str(tmp_path / "a"), epochs=2, dtype=np.float64)
    _, theirs, _, _ = imagenet_main(torch, str(tmp_path / "b"), epochs=2, dtype=np.float64, copy_from=init)
    np.testing.assert_allclose(ours["train"], theirs["train"], rtol=1e-8)
    assert ours["acc1"] == theirs["acc1"]


@pytest.mark.parametrize("arch", ["resnext50_32x4d", "dilated_resnet50"])
def test_torchvision_resnet_variants_match_pytorch(arch):
    # full-width Bottleneck nets (grouped and dilated 3x3 convolutions) on one 3x32x32 image in eval mode
    # (wide_resnet50_2 is resnet50 with width_per_group=128: the same code path, 3 s more)
    kwargs = {}
    if arch == "dilated_resnet50":
        arch, kwargs = "resnet50", dict(replace_stride_with_dilation=[False, True, True])
    mathdl.manual_seed(0)
    ours = torchvision_resnet(mathdl)[arch](num_classes=10, zero_init_residual=True, **kwargs).eval()
    theirs = torchvision_resnet(torch)[arch](num_classes=10, zero_init_residual=True, **kwargs).eval()
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    assert all(float(abs(m.bn3.weight).sum()) == 0 for m in ours.modules() if type(m).__name__ == "Bottleneck")
    x = np.random.default_rng(0).random((1, 3, 32, 32)).astype(np.float32)
    with mathdl.no_grad():
        a = ours(mathdl.tensor(x)).numpy()
    with torch.no_grad():
        b = theirs(torch.tensor(x)).numpy()
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_kaiming_normal_fan_out_statistics():
    mathdl.manual_seed(0)
    conv = mathdl.nn.Conv2d(64, 256, 3)
    mathdl.nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    std = conv.weight.detach().numpy().std()
    assert abs(std - np.sqrt(2.0 / (256 * 9))) < 0.02 * np.sqrt(2.0 / (256 * 9))


def test_basic_block_refuses_groups():
    with pytest.raises(ValueError, match="BasicBlock only supports groups=1"):
        torchvision_resnet(mathdl)["ResNet"](torchvision_resnet(mathdl)["BasicBlock"], [1, 1, 1, 1], groups=2)


_unused = partial  # (torchvision's resnet.py imports functools.partial for its weight enums)
