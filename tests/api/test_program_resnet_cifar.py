# ruff: noqa: UP008, UP031, F841  (the public script's own idioms, kept as written)
"""kuangliu/pytorch-cifar's ResNet training script runs on mathdl with only the import and the data changed.

The transcription keeps ``models/resnet.py`` (``BasicBlock`` and ``Bottleneck`` with their
``nn.Sequential()`` identity shortcut or 1x1-conv + BatchNorm2d shortcut, ``out += self.shortcut(x)``,
``ResNet._make_layer``, ``F.avg_pool2d(out, 4)``, ``out.view(out.size(0), -1)``) and ``main.py``
(argparse with ``--resume``, ``device = 'cuda' if torch.cuda.is_available() else 'cpu'``,
``cudnn.benchmark = True`` under that guard, CrossEntropyLoss, SGD(momentum=0.9, weight_decay=5e-4),
CosineAnnealingLR(T_max=200), ``_, predicted = outputs.max(1)``, ``predicted.eq(targets).sum().item()``,
the best-accuracy checkpoint ``torch.save({'net': ..., 'acc': ..., 'epoch': ...})`` and resuming from
it).  Changed: the widths (64..512 channels become 4..32, so that a test runs in seconds), the data
(CIFAR-shaped arrays made here, with a class signal, through mathdl's numpy transforms instead of
torchvision's), the checkpoint folder (under pytest's tmp_path) and ``progress_bar`` (recorded).

With shuffling and augmentation off the run is deterministic given the weights: the same source runs
on PyTorch from mathdl's initial weights and the losses must agree.
"""

import argparse
import os
import textwrap

import numpy as np
import pytest

import mathdl
from mathdl.data import transforms

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of this parity test")

IMPORTS = """
import torch
import torch.nn as nn
import torch.optim as optim
import torch.nn.functional as F
import torch.backends.cudnn as cudnn
"""


def models(torch, width=64):
    """models/resnet.py; ``width`` is the first stage's channels (64 in the original)."""
    nn = torch.nn
    F = torch.nn.functional

    class BasicBlock(nn.Module):
        expansion = 1

        def __init__(self, in_planes, planes, stride=1):
            super(BasicBlock, self).__init__()
            self.conv1 = nn.Conv2d(
                in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, kernel_size=3,
                                   stride=1, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)

            self.shortcut = nn.Sequential()
            if stride != 1 or in_planes != self.expansion*planes:
                self.shortcut = nn.Sequential(
                    nn.Conv2d(in_planes, self.expansion*planes,
                              kernel_size=1, stride=stride, bias=False),
                    nn.BatchNorm2d(self.expansion*planes)
                )

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            out += self.shortcut(x)
            out = F.relu(out)
            return out

    class Bottleneck(nn.Module):
        expansion = 4

        def __init__(self, in_planes, planes, stride=1):
            super(Bottleneck, self).__init__()
            self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, kernel_size=3,
                                   stride=stride, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.conv3 = nn.Conv2d(planes, self.expansion *
                                   planes, kernel_size=1, bias=False)
            self.bn3 = nn.BatchNorm2d(self.expansion*planes)

            self.shortcut = nn.Sequential()
            if stride != 1 or in_planes != self.expansion*planes:
                self.shortcut = nn.Sequential(
                    nn.Conv2d(in_planes, self.expansion*planes,
                              kernel_size=1, stride=stride, bias=False),
                    nn.BatchNorm2d(self.expansion*planes)
                )

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = F.relu(self.bn2(self.conv2(out)))
            out = self.bn3(self.conv3(out))
            out += self.shortcut(x)
            out = F.relu(out)
            return out

    class ResNet(nn.Module):
        def __init__(self, block, num_blocks, num_classes=10):
            super(ResNet, self).__init__()
            self.in_planes = width

            self.conv1 = nn.Conv2d(3, width, kernel_size=3,
                                   stride=1, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.layer1 = self._make_layer(block, width, num_blocks[0], stride=1)
            self.layer2 = self._make_layer(block, 2*width, num_blocks[1], stride=2)
            self.layer3 = self._make_layer(block, 4*width, num_blocks[2], stride=2)
            self.layer4 = self._make_layer(block, 8*width, num_blocks[3], stride=2)
            self.linear = nn.Linear(8*width*block.expansion, num_classes)

        def _make_layer(self, block, planes, num_blocks, stride):
            strides = [stride] + [1]*(num_blocks-1)
            layers = []
            for stride in strides:
                layers.append(block(self.in_planes, planes, stride))
                self.in_planes = planes * block.expansion
            return nn.Sequential(*layers)

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.layer1(out)
            out = self.layer2(out)
            out = self.layer3(out)
            out = self.layer4(out)
            out = F.avg_pool2d(out, 4)
            out = out.view(out.size(0), -1)
            out = self.linear(out)
            return out

    def ResNet18():
        return ResNet(BasicBlock, [2, 2, 2, 2])

    def ResNet50():
        return ResNet(Bottleneck, [3, 4, 6, 3])

    return ResNet18, ResNet50


class CIFARLike:
    """The data source: CIFAR-shaped images (3x32x32 in [0, 1]) whose class sets a colour bias and a
    stripe, through ``transform`` (numpy, channels first) like torchvision's CIFAR10 dataset."""

    def __init__(self, n, seed, transform=None, dtype=np.float32):
        rng = np.random.default_rng(seed)
        self.targets = rng.integers(0, 10, size=n)
        colour = np.random.default_rng(7).random((10, 3, 1, 1))
        stripe = np.zeros((10, 1, 32, 32))
        for c in range(10):
            stripe[c, :, 3 * c:3 * c + 3, :] = 1.0
        self.data = np.clip(0.5 * colour[self.targets] + 0.4 * stripe[self.targets]
                            + 0.2 * rng.random((n, 3, 32, 32)), 0, 1).astype(np.float32)
        self.transform = transform
        self.dtype = dtype

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        img, target = self.data[index], int(self.targets[index])
        if self.transform is not None:
            img = self.transform(img)
        return np.ascontiguousarray(img, dtype=self.dtype), target


def cifar_main(torch, checkpoint_dir, argv=(), epochs=2, augment=True, shuffle=True, copy_from=None, width=4,
               dtype=np.float32):
    nn, optim = torch.nn, torch.optim
    cudnn = torch.backends.cudnn
    ResNet18, _ = models(torch, width)
    log, history = [], {"train": [], "test": [], "lr": []}

    def print(*args):  # the script prints; the test keeps the lines
        log.append(" ".join(str(a) for a in args))

    def progress_bar(current, total, msg=None):  # utils.progress_bar, recorded
        log.append(f"{current + 1}/{total} {msg}")

    parser = argparse.ArgumentParser(description='PyTorch CIFAR10 Training')
    parser.add_argument('--lr', default=0.1, type=float, help='learning rate')
    parser.add_argument('--resume', '-r', action='store_true',
                        help='resume from checkpoint')
    args = parser.parse_args(list(argv))

    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    best_acc = 0  # best test accuracy
    start_epoch = 0  # start from epoch 0 or last checkpoint epoch

    # Data
    print('==> Preparing data..')
    transform_train = transforms.Compose([
        transforms.RandomCrop(32, padding=4),
        transforms.RandomHorizontalFlip(),
        transforms.Normalize((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
    ]) if augment else transforms.Normalize((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))

    transform_test = transforms.Compose([
        transforms.Normalize((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
    ])

    trainset = CIFARLike(64, seed=0, transform=transform_train, dtype=dtype)
    trainloader = torch.utils.data.DataLoader(
        trainset, batch_size=16, shuffle=shuffle, num_workers=2)

    testset = CIFARLike(40, seed=1, transform=transform_test, dtype=dtype)
    testloader = torch.utils.data.DataLoader(
        testset, batch_size=20, shuffle=False, num_workers=2)

    classes = ('plane', 'car', 'bird', 'cat', 'deer',
               'dog', 'frog', 'horse', 'ship', 'truck')

    # Model
    print('==> Building model..')
    net = ResNet18()
    if dtype == np.float64:  # the comparison with PyTorch runs in float64
        net = net.double()
    if copy_from is not None:  # the other library's initial weights, so the runs can be compared
        net.load_state_dict({k: torch.tensor(v) for k, v in copy_from.items()})
    initial = {k: v.detach().cpu().numpy().copy() for k, v in net.state_dict().items()}
    net = net.to(device)
    if device == 'cuda':
        net = torch.nn.DataParallel(net)
        cudnn.benchmark = True

    if args.resume:
        # Load checkpoint.
        print('==> Resuming from checkpoint..')
        assert os.path.isdir(os.path.join(checkpoint_dir, 'checkpoint')), 'Error: no checkpoint directory found!'
        checkpoint = torch.load(os.path.join(checkpoint_dir, 'checkpoint/ckpt.pth'))
        net.load_state_dict(checkpoint['net'])
        best_acc = checkpoint['acc']
        start_epoch = checkpoint['epoch']

    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=args.lr,
                          momentum=0.9, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=200)

    # Training
    def train(epoch):
        print('\nEpoch: %d' % epoch)
        net.train()
        train_loss = 0
        correct = 0
        total = 0
        for batch_idx, (inputs, targets) in enumerate(trainloader):
            inputs, targets = inputs.to(device), targets.to(device)
            optimizer.zero_grad()
            outputs = net(inputs)
            loss = criterion(outputs, targets)
            loss.backward()
            optimizer.step()

            train_loss += loss.item()
            _, predicted = outputs.max(1)
            total += targets.size(0)
            correct += predicted.eq(targets).sum().item()
            history["train"].append(loss.item())

            progress_bar(batch_idx, len(trainloader), 'Loss: %.3f | Acc: %.3f%% (%d/%d)'
                         % (train_loss/(batch_idx+1), 100.*correct/total, correct, total))

    def test(epoch):
        nonlocal best_acc
        net.eval()
        test_loss = 0
        correct = 0
        total = 0
        with torch.no_grad():
            for batch_idx, (inputs, targets) in enumerate(testloader):
                inputs, targets = inputs.to(device), targets.to(device)
                outputs = net(inputs)
                loss = criterion(outputs, targets)

                test_loss += loss.item()
                _, predicted = outputs.max(1)
                total += targets.size(0)
                correct += predicted.eq(targets).sum().item()

                progress_bar(batch_idx, len(testloader), 'Loss: %.3f | Acc: %.3f%% (%d/%d)'
                             % (test_loss/(batch_idx+1), 100.*correct/total, correct, total))
        history["test"].append((test_loss / len(testloader), correct))

        # Save checkpoint.
        acc = 100.*correct/total
        if acc > best_acc:
            print('Saving..')
            state = {
                'net': net.state_dict(),
                'acc': acc,
                'epoch': epoch,
            }
            if not os.path.isdir(os.path.join(checkpoint_dir, 'checkpoint')):
                os.mkdir(os.path.join(checkpoint_dir, 'checkpoint'))
            torch.save(state, os.path.join(checkpoint_dir, 'checkpoint/ckpt.pth'))
            best_acc = acc

    for epoch in range(start_epoch, start_epoch+epochs):
        train(epoch)
        test(epoch)
        scheduler.step()
        history["lr"].append(optimizer.param_groups[0]["lr"])
    return initial, history, log, net


def test_cifar_imports_resolve_on_mathdl():
    exec(textwrap.dedent(IMPORTS).replace("torch", "mathdl"), {})


def test_cifar_script_trains_checkpoints_and_resumes(tmp_path):
    mathdl.manual_seed(0)
    _, history, log, net = cifar_main(mathdl, str(tmp_path), ["--lr", "0.05"], epochs=3)
    assert len(history["train"]) == 12 and all(np.isfinite(history["train"]))
    assert np.mean(history["train"][-4:]) < np.mean(history["train"][:4])  # it learns
    np.testing.assert_allclose(history["lr"], [0.025 * (1 + np.cos(np.pi * e / 200)) for e in (1, 2, 3)])
    assert log[0] == "==> Preparing data.." and "Saving.." in log and any(line.startswith("2/2 Loss: ") for line in log)
    ckpt = mathdl.load(str(tmp_path / "checkpoint" / "ckpt.pth"))
    assert sorted(ckpt) == ["acc", "epoch", "net"] and 0 < ckpt["acc"] <= 100 and ckpt["epoch"] in (0, 1, 2)
    assert "layer1.0.bn1.running_mean" in ckpt["net"] and "layer2.0.shortcut.0.weight" in ckpt["net"]
    assert int(ckpt["net"]["bn1.num_batches_tracked"].item()) == 4 * (ckpt["epoch"] + 1)
    # --resume: loads the checkpoint and counts epochs on from it
    _, resumed, log, net2 = cifar_main(mathdl, str(tmp_path), ["--resume"], epochs=1)
    assert "==> Resuming from checkpoint.." in log and len(resumed["train"]) == 4


def test_resnet50_bottleneck_forward_backward():
    _, ResNet50 = models(mathdl, width=2)
    net = ResNet50()
    out = net(mathdl.randn(2, 3, 32, 32))
    assert tuple(out.shape) == (2, 10)
    out.sum().backward()
    assert net.layer4[0].shortcut[0].weight.grad is not None


def test_cifar_script_matches_pytorch(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    mathdl.manual_seed(0)
    kw = dict(augment=False, shuffle=False, dtype=np.float64)
    init, ours, _, net = cifar_main(mathdl, str(tmp_path / "a"), **kw)
    _, theirs, _, _ = cifar_main(torch, str(tmp_path / "b"), copy_from=init, **kw)
    np.testing.assert_allclose(ours["train"], theirs["train"], rtol=1e-8)
    np.testing.assert_allclose([t[0] for t in ours["test"]], [t[0] for t in theirs["test"]], rtol=1e-8)
    assert [t[1] for t in ours["test"]] == [t[1] for t in theirs["test"]]
    np.testing.assert_allclose(ours["lr"], theirs["lr"], rtol=1e-12)
