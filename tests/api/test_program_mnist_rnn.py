# ruff: noqa: UP008, UP032  (the public example's own idioms, kept as written)
"""PyTorch's examples/mnist_rnn/main.py runs on mathdl with only the import and the data source changed.

The example's ``Net`` (``nn.LSTM(input_size=28, hidden_size=64, batch_first=True)``, the last step
``output[:, -1, :]``, ``BatchNorm1d``, ``nn.Dropout2d`` applied to a 2-D tensor -- PyTorch's
deprecated element-wise case, with its warning --, ``F.log_softmax``), its Adadelta + StepLR
training and its test loop, on MNIST-shaped data made here.  The same source runs on PyTorch from
the same initial weights (dropout 0 for that comparison only), and the losses must agree.
"""

import argparse

import numpy as np
import pytest

import mathdl

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of this parity test")

pytestmark = pytest.mark.filterwarnings("ignore:dropout2d. Received a 2-D input")


def mnist_like(n, seed):
    rng = np.random.default_rng(seed)
    patterns = np.random.default_rng(4321).random((10, 1, 28, 28)) < 0.2
    labels = rng.integers(0, 10, size=n)
    images = np.clip(patterns[labels] * 0.8 + rng.random((n, 1, 28, 28)) * 0.3, 0, 1)
    return ((images - 0.1307) / 0.3081).astype(np.float32), labels


def mnist_rnn_main(torch, argv, dropout=(0.25, 0.5), copy_from=None):
    nn, optim = torch.nn, torch.optim
    F = torch.nn.functional
    StepLR = torch.optim.lr_scheduler.StepLR
    log, history = [], {"train": [], "test": []}

    def print(*args):  # the example prints; the test keeps the lines
        log.append(" ".join(str(a) for a in args))

    class Net(nn.Module):
        def __init__(self):
            super(Net, self).__init__()
            self.rnn = nn.LSTM(input_size=28, hidden_size=64, batch_first=True)
            self.batchnorm = nn.BatchNorm1d(64)
            self.dropout1 = nn.Dropout2d(dropout[0])
            self.dropout2 = nn.Dropout2d(dropout[1])
            self.fc1 = nn.Linear(64, 32)
            self.fc2 = nn.Linear(32, 10)

        def forward(self, input):
            # Shape of input is (batch_size,1, 28, 28)
            # converting shape of input to (batch_size, 28, 28)
            # as required by RNN when batch_first is set True
            input = input.reshape(-1, 28, 28)
            output, hidden = self.rnn(input)

            # RNN output shape is (seq_len, batch, input_size)
            # Get last output of RNN
            output = output[:, -1, :]
            output = self.batchnorm(output)
            output = self.dropout1(output)
            output = self.fc1(output)
            output = F.relu(output)
            output = self.dropout2(output)
            output = self.fc2(output)
            output = F.log_softmax(output, dim=1)
            return output

    def train(args, model, device, train_loader, optimizer, epoch):
        model.train()
        for batch_idx, (data, target) in enumerate(train_loader):
            data, target = data.to(device), target.to(device)
            optimizer.zero_grad()
            output = model(data)
            loss = F.nll_loss(output, target)
            loss.backward()
            optimizer.step()
            history["train"].append(loss.item())
            if batch_idx % args.log_interval == 0:
                print('Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}'.format(
                    epoch, batch_idx * len(data), len(train_loader.dataset),
                    100. * batch_idx / len(train_loader), loss.item()))
                if args.dry_run:
                    break

    def test(args, model, device, test_loader):
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
        history["test"].append((test_loss, correct))

        print('\nTest set: Average loss: {:.4f}, Accuracy: {}/{} ({:.0f}%)\n'.format(
            test_loss, correct, len(test_loader.dataset),
            100. * correct / len(test_loader.dataset)))

    # Training settings
    parser = argparse.ArgumentParser(description='PyTorch MNIST Example using RNN')
    parser.add_argument('--batch-size', type=int, default=64, metavar='N',
                        help='input batch size for training (default: 64)')
    parser.add_argument('--test-batch-size', type=int, default=1000, metavar='N',
                        help='input batch size for testing (default: 1000)')
    parser.add_argument('--epochs', type=int, default=14, metavar='N',
                        help='number of epochs to train (default: 14)')
    parser.add_argument('--lr', type=float, default=0.1, metavar='LR',
                        help='learning rate (default: 0.1)')
    parser.add_argument('--gamma', type=float, default=0.7, metavar='M',
                        help='learning rate step gamma (default: 0.7)')
    parser.add_argument('--cuda', action='store_true', default=False,
                        help='enables CUDA training')
    parser.add_argument('--mps', action="store_true", default=False,
                        help="enables MPS training")
    parser.add_argument('--dry-run', action='store_true', default=False,
                        help='quickly check a single pass')
    parser.add_argument('--seed', type=int, default=1, metavar='S',
                        help='random seed (default: 1)')
    parser.add_argument('--log-interval', type=int, default=10, metavar='N',
                        help='how many batches to wait before logging training status')
    parser.add_argument('--save-model', action='store_true', default=False,
                        help='for Saving the current Model')
    args = parser.parse_args(argv)

    if args.cuda and not args.mps:
        device = "cuda"
    elif args.mps and not args.cuda:
        device = "mps"
    else:
        device = "cpu"

    device = torch.device(device)

    torch.manual_seed(args.seed)

    kwargs = {'num_workers': 1, 'pin_memory': True} if args.cuda else {}
    x1, y1 = mnist_like(48, seed=0)
    x2, y2 = mnist_like(32, seed=1)
    train_loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.tensor(x1), torch.tensor(y1)),
        batch_size=args.batch_size, shuffle=False, **kwargs)
    test_loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.tensor(x2), torch.tensor(y2)),
        batch_size=args.test_batch_size, shuffle=False, **kwargs)

    model = Net().to(device)
    if copy_from is not None:  # (test only: the other library's initial weights)
        model.load_state_dict({k: torch.tensor(v) for k, v in copy_from.items()})
    initial = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    optimizer = optim.Adadelta(model.parameters(), lr=args.lr)

    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
    for epoch in range(1, args.epochs + 1):
        train(args, model, device, train_loader, optimizer, epoch)
        test(args, model, device, test_loader)
        scheduler.step()

    if args.save_model:
        torch.save(model.state_dict(), "mnist_rnn.pt")
    return initial, history, log


ARGV = ["--batch-size", "16", "--test-batch-size", "32", "--epochs", "3", "--lr", "1.0", "--log-interval", "1"]


def test_mnist_rnn_runs_and_learns():
    _, history, log = mnist_rnn_main(mathdl, ARGV)
    assert len(history["train"]) == 9 and np.all(np.isfinite(history["train"]))
    assert history["test"][-1][0] < history["test"][0][0] and log[0].startswith("Train Epoch: 1 [0/48 (0%)]")


def test_mnist_rnn_matches_pytorch():
    init, ours, _ = mnist_rnn_main(mathdl, ARGV, dropout=(0.0, 0.0))
    _, theirs, _ = mnist_rnn_main(torch, ARGV, dropout=(0.0, 0.0), copy_from=init)
    np.testing.assert_allclose(ours["train"], theirs["train"], rtol=1e-4)
    np.testing.assert_allclose(np.array(ours["test"]), np.array(theirs["test"]), rtol=1e-4)
