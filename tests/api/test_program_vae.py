# ruff: noqa: UP008, UP032, N806  (the public example's own idioms, kept as written)
"""PyTorch's examples/vae/main.py runs on mathdl with only the import and the data source changed.

The example transcribed with its idioms kept: the argparse settings, ``VAE`` with fc1, fc21, fc22,
fc3, fc4, ``reparameterize`` with ``torch.randn_like``, ``loss_function`` with
``F.binary_cross_entropy(..., reduction='sum')`` plus the closed-form KL term, Adam(lr=1e-3), a
shuffled train loader, the test loop's ``torch.cat`` of originals and reconstructions, and
``sample = torch.randn(64, 20)`` decoded under ``no_grad``.  The data source: binary MNIST-shaped
images made here instead of the torchvision download; torchvision's ``save_image`` is replaced by a
recorder.  The program draws random numbers (shuffling, ``randn_like``), so the test checks that it
runs and learns; its loss function is compared with PyTorch's on the same inputs.
"""

import argparse
import textwrap

import numpy as np
import pytest

import mathdl

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of this parity test")

IMPORTS = """
import torch
import torch.utils.data
from torch import nn, optim
from torch.nn import functional as F
"""


def binary_digits(n, seed):
    """``n`` 1x28x28 images in [0, 1] (as ``transforms.ToTensor()`` gives): one of ten strokes, noisy."""
    rng = np.random.default_rng(seed)
    patterns = np.random.default_rng(99).random((10, 1, 28, 28)) < 0.3
    flips = rng.random((n, 1, 28, 28)) < 0.05
    images = np.logical_xor(patterns[rng.integers(0, 10, size=n)], flips)
    return images.astype(np.float32), np.zeros(n, dtype=np.int64)


def vae_main(torch, argv=()):
    nn, optim = torch.nn, torch.optim
    F = torch.nn.functional
    log, saved, losses = [], {}, {"train": [], "test": []}

    def print(*args):  # the example prints; the test keeps the lines
        log.append(" ".join(str(a) for a in args))

    def save_image(tensor, filename, nrow=8):  # torchvision.utils.save_image, recorded instead
        saved[filename] = (tuple(tensor.shape), nrow, np.asarray(tensor.numpy()))

    parser = argparse.ArgumentParser(description='VAE MNIST Example')
    parser.add_argument('--batch-size', type=int, default=128, metavar='N',
                        help='input batch size for training (default: 128)')
    parser.add_argument('--epochs', type=int, default=10, metavar='N',
                        help='number of epochs to train (default: 10)')
    parser.add_argument('--no-cuda', action='store_true', default=False,
                        help='disables CUDA training')
    parser.add_argument('--no-mps', action='store_true', default=False,
                        help='disables macOS GPU training')
    parser.add_argument('--seed', type=int, default=1, metavar='S',
                        help='random seed (default: 1)')
    parser.add_argument('--log-interval', type=int, default=10, metavar='N',
                        help='how many batches to wait before logging training status')
    args = parser.parse_args(list(argv))
    args.cuda = not args.no_cuda and torch.cuda.is_available()
    use_mps = not args.no_mps and torch.backends.mps.is_available()

    torch.manual_seed(args.seed)

    if args.cuda:
        device = torch.device("cuda")
    elif use_mps:
        device = torch.device("mps")
    else:
        device = torch.device("cpu")

    kwargs = {'num_workers': 1, 'pin_memory': True} if args.cuda else {}
    # the data source: binary MNIST-shaped tensors instead of datasets.MNIST(..., download=True)
    train_set = torch.utils.data.TensorDataset(*map(torch.tensor, binary_digits(96, seed=0)))
    test_set = torch.utils.data.TensorDataset(*map(torch.tensor, binary_digits(64, seed=1)))
    train_loader = torch.utils.data.DataLoader(
        train_set,
        batch_size=args.batch_size, shuffle=True, **kwargs)
    test_loader = torch.utils.data.DataLoader(
        test_set,
        batch_size=args.batch_size, shuffle=False, **kwargs)

    class VAE(nn.Module):
        def __init__(self):
            super(VAE, self).__init__()

            self.fc1 = nn.Linear(784, 400)
            self.fc21 = nn.Linear(400, 20)
            self.fc22 = nn.Linear(400, 20)
            self.fc3 = nn.Linear(20, 400)
            self.fc4 = nn.Linear(400, 784)

        def encode(self, x):
            h1 = F.relu(self.fc1(x))
            return self.fc21(h1), self.fc22(h1)

        def reparameterize(self, mu, logvar):
            std = torch.exp(0.5*logvar)
            eps = torch.randn_like(std)
            return mu + eps*std

        def decode(self, z):
            h3 = F.relu(self.fc3(z))
            return torch.sigmoid(self.fc4(h3))

        def forward(self, x):
            mu, logvar = self.encode(x.view(-1, 784))
            z = self.reparameterize(mu, logvar)
            return self.decode(z), mu, logvar

    model = VAE().to(device)
    optimizer = optim.Adam(model.parameters(), lr=1e-3)

    # Reconstruction + KL divergence losses summed over all elements and batch
    def loss_function(recon_x, x, mu, logvar):
        BCE = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction='sum')

        # see Appendix B from VAE paper:
        # Kingma and Welling. Auto-Encoding Variational Bayes. ICLR, 2014
        # https://arxiv.org/abs/1312.6114
        # 0.5 * sum(1 + log(sigma^2) - mu^2 - sigma^2)
        KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())

        return BCE + KLD

    def train(epoch):
        model.train()
        train_loss = 0
        for batch_idx, (data, _) in enumerate(train_loader):
            data = data.to(device)
            optimizer.zero_grad()
            recon_batch, mu, logvar = model(data)
            loss = loss_function(recon_batch, data, mu, logvar)
            loss.backward()
            train_loss += loss.item()
            optimizer.step()
            if batch_idx % args.log_interval == 0:
                print('Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}'.format(
                    epoch, batch_idx * len(data), len(train_loader.dataset),
                    100. * batch_idx / len(train_loader),
                    loss.item() / len(data)))

        print('====> Epoch: {} Average loss: {:.4f}'.format(
              epoch, train_loss / len(train_loader.dataset)))
        losses["train"].append(train_loss / len(train_loader.dataset))

    def test(epoch):
        model.eval()
        test_loss = 0
        with torch.no_grad():
            for i, (data, _) in enumerate(test_loader):
                data = data.to(device)
                recon_batch, mu, logvar = model(data)
                test_loss += loss_function(recon_batch, data, mu, logvar).item()
                if i == 0:
                    n = min(data.size(0), 8)
                    comparison = torch.cat([data[:n],
                                          recon_batch.view(args.batch_size, 1, 28, 28)[:n]])
                    save_image(comparison.cpu(),
                             'results/reconstruction_' + str(epoch) + '.png', nrow=n)

        test_loss /= len(test_loader.dataset)
        print('====> Test set loss: {:.4f}'.format(test_loss))
        losses["test"].append(test_loss)

    for epoch in range(1, args.epochs + 1):
        train(epoch)
        test(epoch)
        with torch.no_grad():
            sample = torch.randn(64, 20).to(device)
            sample = model.decode(sample).cpu()
            save_image(sample.view(64, 1, 28, 28),
                       'results/sample_' + str(epoch) + '.png')
    return losses, log, saved, loss_function


ARGV = ["--batch-size", "32", "--epochs", "3", "--log-interval", "2"]


def test_vae_imports_resolve_on_mathdl():
    exec(textwrap.dedent(IMPORTS).replace("torch", "mathdl"), {})


def test_vae_example_runs_and_learns():
    losses, log, saved, _ = vae_main(mathdl, ARGV)
    assert len(losses["train"]) == 3 and all(np.isfinite(losses["train"] + losses["test"]))
    # 784 log 2 = 543 nats an image at the start; each epoch codes the strokes in fewer (torch: 539, 506, 481)
    assert losses["train"][0] > losses["train"][1] > losses["train"][2] and losses["test"][-1] < 0.9 * 539
    assert "Train Epoch: 1 [0/96 (0%)]" in log[0] and log[-1].startswith("====> Test set loss:")
    shape, nrow, comparison = saved["results/reconstruction_3.png"]
    assert shape == (16, 1, 28, 28) and nrow == 8 and comparison.min() >= 0 and comparison.max() <= 1
    shape, _, sample = saved["results/sample_3.png"]
    assert shape == (64, 1, 28, 28) and np.all((sample > 0) & (sample < 1))


def test_vae_loss_function_matches_pytorch():
    *_, ours = vae_main(mathdl, ["--epochs", "0"])
    *_, theirs = vae_main(torch, ["--epochs", "0"])
    rng = np.random.default_rng(0)
    recon = 1 / (1 + np.exp(-rng.normal(size=(5, 784))))
    x = (rng.random((5, 1, 28, 28)) < 0.3).astype(np.float64)
    mu, logvar = rng.normal(size=(5, 20)), rng.normal(size=(5, 20))
    values = []
    for lib, fn in ((mathdl, ours), (torch, theirs)):
        args = [lib.tensor(a, requires_grad=True) for a in (recon, x, mu, logvar)]
        args[1].requires_grad_(False)
        loss = fn(*args)
        loss.backward()
        values.append([loss.item()] + [args[i].grad.numpy() for i in (0, 2, 3)])
    for a, b in zip(*values):
        np.testing.assert_allclose(a, b, rtol=1e-10)
