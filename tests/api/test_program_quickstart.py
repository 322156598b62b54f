"""PyTorch's quickstart tutorial (beginner_source/basics/quickstart_tutorial.py) runs on mathdl.

The tutorial transcribed with its idioms kept: ``DataLoader(training_data, batch_size=batch_size)``,
the peek ``for X, y in test_dataloader: print(f"Shape of X [N, C, H, W]: {X.shape}")``, the device
line (the current tutorial's ``torch.accelerator`` one, and the earlier
``"cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"``),
``NeuralNetwork`` with ``nn.Flatten`` and ``nn.Sequential``, CrossEntropyLoss, SGD(lr=1e-3),
``loss.backward(); optimizer.step(); optimizer.zero_grad()``, the test loop's
``(pred.argmax(1) == y).type(torch.float).sum().item()``, ``torch.save(model.state_dict(),
"model.pth")``, ``model.load_state_dict(torch.load("model.pth", weights_only=True))`` and
``classes[pred[0].argmax(0)]`` (a tensor used as a list index).  Changed: FashionMNIST's download
becomes FashionMNIST-shaped data made here, and the sizes shrink.  The run is deterministic given
the weights (no shuffling): it is compared with PyTorch's from the same initial weights.
"""

import os

import numpy as np
import pytest

import mathdl

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of this parity test")

DEVICE_LINES = ["accelerator", "cuda-mps"]


class FashionLike:
    """FashionMNIST through ``ToTensor()``: (1, 28, 28) float images in [0, 1] and int labels."""

    def __init__(self, n, seed):
        rng = np.random.default_rng(seed)
        self.targets = rng.integers(0, 10, size=n)
        patterns = np.random.default_rng(5).random((10, 1, 28, 28)) < 0.25
        self.data = (0.8 * patterns[self.targets] + 0.2 * rng.random((n, 1, 28, 28))).astype(np.float32)

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        return self.data[i], int(self.targets[i])


def quickstart(torch, folder, device_line, epochs=3, copy_from=None):
    nn = torch.nn
    DataLoader = torch.utils.data.DataLoader
    log, history = [], {"train": [], "test": []}

    def print(*args):  # the tutorial prints; the test keeps the lines
        log.append(" ".join(str(a) for a in args))

    training_data = FashionLike(96, seed=0)
    test_data = FashionLike(40, seed=1)

    batch_size = 16

    # Create data loaders.
    train_dataloader = DataLoader(training_data, batch_size=batch_size)
    test_dataloader = DataLoader(test_data, batch_size=batch_size)

    for X, y in test_dataloader:
        print(f"Shape of X [N, C, H, W]: {X.shape}")
        print(f"Shape of y: {y.shape} {y.dtype}")
        break

    if device_line == "accelerator":
        device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"
    else:
        device = (
            "cuda"
            if torch.cuda.is_available()
            else "mps"
            if torch.backends.mps.is_available()
            else "cpu"
        )
    print(f"Using {device} device")

    # Define model
    class NeuralNetwork(nn.Module):
        def __init__(self):
            super().__init__()
            self.flatten = nn.Flatten()
            self.linear_relu_stack = nn.Sequential(
                nn.Linear(28*28, 512),
                nn.ReLU(),
                nn.Linear(512, 512),
                nn.ReLU(),
                nn.Linear(512, 10)
            )

        def forward(self, x):
            x = self.flatten(x)
            logits = self.linear_relu_stack(x)
            return logits

    model = NeuralNetwork().to(device)
    if copy_from is not None:  # the other library's initial weights, so the runs can be compared
        model.load_state_dict({k: torch.tensor(v) for k, v in copy_from.items()})
    initial = {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}
    print(model)

    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-1)

    def train(dataloader, model, loss_fn, optimizer):
        size = len(dataloader.dataset)
        model.train()
        for batch, (X, y) in enumerate(dataloader):
            X, y = X.to(device), y.to(device)

            # Compute prediction error
            pred = model(X)
            loss = loss_fn(pred, y)

            # Backpropagation
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            history["train"].append(loss.item())

            if batch % 2 == 0:
                loss, current = loss.item(), (batch + 1) * len(X)
                print(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")

    def test(dataloader, model, loss_fn):
        size = len(dataloader.dataset)
        num_batches = len(dataloader)
        model.eval()
        test_loss, correct = 0, 0
        with torch.no_grad():
            for X, y in dataloader:
                X, y = X.to(device), y.to(device)
                pred = model(X)
                test_loss += loss_fn(pred, y).item()
                correct += (pred.argmax(1) == y).type(torch.float).sum().item()
        test_loss /= num_batches
        correct /= size
        history["test"].append((test_loss, correct))
        print(f"Test Error: \n Accuracy: {(100*correct):>0.1f}%, Avg loss: {test_loss:>8f} \n")

    for t in range(epochs):
        print(f"Epoch {t+1}\n-------------------------------")
        train(train_dataloader, model, loss_fn, optimizer)
        test(test_dataloader, model, loss_fn)
    print("Done!")

    path = os.path.join(folder, "model.pth")
    torch.save(model.state_dict(), path)
    print("Saved PyTorch Model State to model.pth")

    model = NeuralNetwork().to(device)
    model.load_state_dict(torch.load(path, weights_only=True))

    classes = [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ]

    model.eval()
    x, y = torch.tensor(test_data[0][0]), test_data[0][1]
    with torch.no_grad():
        x = x.to(device)
        pred = model(x)
        predicted, actual = classes[pred[0].argmax(0)], classes[y]
        print(f'Predicted: "{predicted}", Actual: "{actual}"')
    return initial, history, log


@pytest.mark.parametrize("device_line", DEVICE_LINES)
def test_quickstart_runs_learns_and_reloads(tmp_path, device_line):
    _, history, log = quickstart(mathdl, str(tmp_path), device_line)
    assert log[0] == "Shape of X [N, C, H, W]: " + str(mathdl.zeros(16, 1, 28, 28).shape)
    assert log[1].startswith("Shape of y: ") and log[1].endswith("int64") and log[2] == "Using cpu device"
    actual = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
              "Ankle boot"][FashionLike(40, seed=1).targets[0]]
    assert log[-1].startswith('Predicted: "') and log[-1].endswith(f'", Actual: "{actual}"')
    assert history["test"][-1][1] > 0.5 and history["test"][-1][0] < history["test"][0][0]


@pytest.mark.parametrize("device_line", DEVICE_LINES)
def test_quickstart_matches_pytorch(tmp_path, device_line):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    init, ours, our_log = quickstart(mathdl, str(tmp_path / "a"), device_line)
    _, theirs, their_log = quickstart(torch, str(tmp_path / "b"), device_line, copy_from=init)
    np.testing.assert_allclose(ours["train"], theirs["train"], rtol=1e-4)
    np.testing.assert_allclose(np.array(ours["test"]), np.array(theirs["test"]), rtol=1e-4)
    assert our_log[-1] == their_log[-1]  # 'Predicted: "...", Actual: "..."': classes[pred[0].argmax(0)]
