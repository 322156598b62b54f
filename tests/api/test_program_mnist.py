# ruff: noqa: UP008, UP032  (the public example's own idioms, kept as written)
"""PyTorch's examples/mnist/main.py runs on mathdl with only the import and the data source changed.

The program below is the public example transcribed with its idioms kept (argparse settings, ``Net``
with Conv2d/Dropout/``F.max_pool2d``/``torch.flatten``/``F.log_softmax``, Adadelta with StepLR,
``optimizer.zero_grad()``, ``F.nll_loss``, the test loop's ``reduction='sum'``,
``output.argmax(dim=1, keepdim=True)``, ``pred.eq(target.view_as(pred)).sum().item()`` and
``torch.save(model.state_dict(), ...)``).  Only the data source differs: MNIST-shaped images made
here (a class pattern plus noise, so there is something to learn) instead of the torchvision
download.  The same source runs on mathdl and on PyTorch from the same initial weights (dropout set
to 0 for that comparison only), and the losses must agree.
"""

import argparse
import textwrap

import numpy as np
import pytest

import mathdl

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of this parity test")

IMPORTS = """
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.optim.lr_scheduler import StepLR
"""


def mnist_like(n, seed):
    """``n`` 1x28x28 images (normalised as the example's transform does) and their labels."""
    rng = np.random.default_rng(seed)
    patterns = np.random.default_rng(1234).random((10, 1, 28, 28)) < 0.2
    labels = rng.integers(0, 10, size=n)
    images = np.clip(patterns[labels] * 0.8 + rng.random((n, 1, 28, 28)) * 0.3, 0, 1)
    return ((images - 0.1307) / 0.3081).astype(np.float32), labels


def mnist_main(torch, save_path, argv=(), dropout=(0.25, 0.5), copy_from=None):
    nn = torch.nn
    F = torch.nn.functional
    optim = torch.optim
    StepLR = torch.optim.lr_scheduler.StepLR
    log = []

    def print(*args):  # the example prints; the test keeps the lines
        log.append(" ".join(str(a) for a in args))

    class Net(nn.Module):
        def __init__(self):
            super(Net, self).__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.conv2 = nn.Conv2d(32, 64, 3, 1)
            self.dropout1 = nn.Dropout(dropout[0])
            self.dropout2 = nn.Dropout(dropout[1])
            self.fc1 = nn.Linear(9216, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = self.conv1(x)
            x = F.relu(x)
            x = self.conv2(x)
            x = F.relu(x)
            x = F.max_pool2d(x, 2)
            x = self.dropout1(x)
            x = torch.flatten(x, 1)
            x = self.fc1(x)
            x = F.relu(x)
            x = self.dropout2(x)
            x = self.fc2(x)
            output = F.log_softmax(x, dim=1)
            return output

    train_losses = []

    def train(args, model, device, train_loader, optimizer, epoch):
        model.train()
        for batch_idx, (data, target) in enumerate(train_loader):
            data, target = data.to(device), target.to(device)
            optimizer.zero_grad()
            output = model(data)
            loss = F.nll_loss(output, target)
            loss.backward()
            optimizer.step()
            train_losses.append(loss.item())
            if batch_idx % args.log_interval == 0:
                print('Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}'.format(
                    epoch, batch_idx * len(data), len(train_loader.dataset),
                    100. * batch_idx / len(train_loader), loss.item()))
                if args.dry_run:
                    break

    test_results = []

    def test(model, device, test_loader):
        model.eval()
        test_loss = 0
        correct = 0
        with torch.no_grad():
            for data, target in test_loader:
                data, target = data.to(device), target.to(device)
                output = model(data)
                test_loss += F.nll_loss(output, target, reduction='sum').item()  # sum up batch loss
                pred = output.argmax(dim=1, keepdim=True)  # get the index of the max log-probability
                correct += pred.eq(target.view_as(pred)).sum().item()

        test_loss /= len(test_loader.dataset)
        test_results.append((test_loss, correct))

        print('\nTest set: Average loss: {:.4f}, Accuracy: {}/{} ({:.0f}%)\n'.format(
            test_loss, correct, len(test_loader.dataset),
            100. * correct / len(test_loader.dataset)))

    def main():
        # Training settings
        parser = argparse.ArgumentParser(description='PyTorch MNIST Example')
        parser.add_argument('--batch-size', type=int, default=64, metavar='N',
                            help='input batch size for training (default: 64)')
        parser.add_argument('--test-batch-size', type=int, default=1000, metavar='N',
                            help='input batch size for testing (default: 1000)')
        parser.add_argument('--epochs', type=int, default=14, metavar='N',
                            help='number of epochs to train (default: 14)')
        parser.add_argument('--lr', type=float, default=1.0, metavar='LR',
                            help='learning rate (default: 1.0)')
        parser.add_argument('--gamma', type=float, default=0.7, metavar='M',
                            help='Learning rate step gamma (default: 0.7)')
        parser.add_argument('--no-cuda', action='store_true', default=False,
                            help='disables CUDA training')
        parser.add_argument('--no-mps', action='store_true', default=False,
                            help='disables macOS GPU training')
        parser.add_argument('--dry-run', action='store_true', default=False,
                            help='quickly check a single pass')
        parser.add_argument('--seed', type=int, default=1, metavar='S',
                            help='random seed (default: 1)')
        parser.add_argument('--log-interval', type=int, default=10, metavar='N',
                            help='how many batches to wait before logging training status')
        parser.add_argument('--save-model', action='store_true', default=False,
                            help='For Saving the current Model')
        args = parser.parse_args(list(argv))
        use_cuda = not args.no_cuda and torch.cuda.is_available()
        use_mps = not args.no_mps and torch.backends.mps.is_available()

        torch.manual_seed(args.seed)

        if use_cuda:
            device = torch.device("cuda")
        elif use_mps:
            device = torch.device("mps")
        else:
            device = torch.device("cpu")

        train_kwargs = {'batch_size': args.batch_size}
        test_kwargs = {'batch_size': args.test_batch_size}
        if use_cuda:
            cuda_kwargs = {'num_workers': 1,
                           'pin_memory': True,
                           'shuffle': True}
            train_kwargs.update(cuda_kwargs)
            test_kwargs.update(cuda_kwargs)

        # the data source: MNIST-shaped tensors instead of datasets.MNIST(..., download=True)
        x1, y1 = mnist_like(48, seed=0)
        x2, y2 = mnist_like(32, seed=1)
        dataset1 = torch.utils.data.TensorDataset(torch.tensor(x1), torch.tensor(y1))
        dataset2 = torch.utils.data.TensorDataset(torch.tensor(x2), torch.tensor(y2))
        train_loader = torch.utils.data.DataLoader(dataset1, **train_kwargs)
        test_loader = torch.utils.data.DataLoader(dataset2, **test_kwargs)

        model = Net().to(device)
        if copy_from is not None:  # the other library's initial weights, so the runs can be compared
            with torch.no_grad():
                for name, p in model.named_parameters():
                    p.copy_(torch.tensor(copy_from[name]))
        initial = {name: p.detach().cpu().numpy().copy() for name, p in model.named_parameters()}
        optimizer = optim.Adadelta(model.parameters(), lr=args.lr)

        scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
        for epoch in range(1, args.epochs + 1):
            train(args, model, device, train_loader, optimizer, epoch)
            test(model, device, test_loader)
            scheduler.step()

        if args.save_model:
            torch.save(model.state_dict(), save_path)
        return initial, optimizer

    initial, optimizer = main()
    return initial, train_losses, test_results, log, optimizer


ARGV = ["--batch-size", "16", "--test-batch-size", "20", "--epochs", "2", "--log-interval", "1", "--save-model"]


def test_mnist_imports_resolve_on_mathdl():
    exec(textwrap.dedent(IMPORTS).replace("torch", "mathdl"), {})


def test_mnist_example_runs_learns_and_saves(tmp_path):
    path = tmp_path / "mnist_cnn.pt"
    _, losses, tests, log, optimizer = mnist_main(mathdl, path, ARGV)
    assert len(losses) == 6 and len(tests) == 2 and all(np.isfinite(losses))
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1.0 * 0.7 ** 2)  # StepLR stepped twice
    assert "Train Epoch: 1 [0/48 (0%)]" in log[0]
    assert any(line.startswith("\nTest set: Average loss:") for line in log)
    assert tests[-1][0] < tests[0][0]  # the test loss falls
    state = mathdl.load(path)  # torch.save(model.state_dict(), ...) wrote the trained weights
    names = [f"{layer}.{kind}" for layer in ("conv1", "conv2", "fc1", "fc2") for kind in ("weight", "bias")]
    assert sorted(state) == sorted(names)
    assert isinstance(state["fc1.weight"], mathdl.Tensor) and tuple(state["fc1.weight"].shape) == (128, 9216)


def test_mnist_example_matches_pytorch(tmp_path):
    init, ours, our_tests, _, _ = mnist_main(mathdl, tmp_path / "a.pt", ARGV, dropout=(0.0, 0.0))
    _, theirs, their_tests, _, _ = mnist_main(torch, tmp_path / "b.pt", ARGV, dropout=(0.0, 0.0), copy_from=init)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4)
    np.testing.assert_allclose([t[0] for t in our_tests], [t[0] for t in their_tests], rtol=1e-4)
    assert [t[1] for t in our_tests] == [t[1] for t in their_tests]
    state = mathdl.load(tmp_path / "a.pt")
    theirs_state = torch.load(tmp_path / "b.pt")
    for name, value in theirs_state.items():
        np.testing.assert_allclose(np.asarray(state[name].numpy()), value.numpy(), rtol=1e-3, atol=1e-5)
