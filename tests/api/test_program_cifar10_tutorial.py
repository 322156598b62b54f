"""PyTorch's "Training a Classifier" tutorial (cifar10_tutorial.py) runs on mathdl (import and data changed).

Kept: ``iter(trainloader)`` / ``next(dataiter)``, ``classes[labels[j]]`` (a 0-d tensor as a tuple index),
the LeNet-style ``Net`` (Conv2d, ``MaxPool2d(2, 2)``, ``torch.flatten(x, 1)``), CrossEntropyLoss, SGD with
momentum, the running-loss print, ``torch.save(net.state_dict(), PATH)`` and
``net.load_state_dict(torch.load(PATH, weights_only=True))``, ``torch.max(outputs.data, 1)``,
``(predicted == labels).sum().item()``, ``100 * correct // total`` and the per-class count with
``if label == prediction`` over ``zip(labels, predictions)``.  Changed: CIFAR-10 becomes CIFAR-shaped
images with a class signal made here (through the tutorial's Normalize), the sizes and the print
interval shrink.  The run shuffles; with ``shuffle=False`` (for the comparison only) it is compared with
PyTorch's from the same initial weights.
"""

import os

import numpy as np
import pytest

import mathdl
from mathdl.data import transforms

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of this parity test")


class CIFARLike:
    """3x32x32 images in [0, 1] through ``transform``: a class colour and stripe plus noise."""

    def __init__(self, n, seed, transform):
        rng = np.random.default_rng(seed)
        self.targets = rng.integers(0, 10, n)
        colour = np.random.default_rng(3).random((10, 3, 1, 1))
        stripe = np.zeros((10, 1, 32, 32))
        for c in range(10):
            stripe[c, :, :, 3 * c:3 * c + 3] = 1.0
        self.data = np.clip(0.5 * colour[self.targets] + 0.4 * stripe[self.targets] + 0.2 * rng.random((n, 3, 32, 32)),
                            0, 1).astype(np.float32)
        self.transform = transform

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        return self.transform(self.data[i]), int(self.targets[i])


def cifar10_tutorial(torch, folder, epochs=2, shuffle=True, copy_from=None):
    nn, optim = torch.nn, torch.optim
    F = torch.nn.functional
    log, losses = [], []

    def print(*args):  # the tutorial prints; the test keeps the lines
        log.append(" ".join(str(a) for a in args))

    transform = transforms.Compose(
        [transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])

    batch_size = 4

    trainset = CIFARLike(64, seed=0, transform=transform)
    trainloader = torch.utils.data.DataLoader(trainset, batch_size=batch_size,
                                              shuffle=shuffle, num_workers=2)

    testset = CIFARLike(40, seed=1, transform=transform)
    testloader = torch.utils.data.DataLoader(testset, batch_size=batch_size,
                                             shuffle=False, num_workers=2)

    classes = ('plane', 'car', 'bird', 'cat',
               'deer', 'dog', 'frog', 'horse', 'ship', 'truck')

    # get some random training images
    dataiter = iter(trainloader)
    images, labels = next(dataiter)
    # print labels
    print(' '.join(f'{classes[labels[j]]:5s}' for j in range(batch_size)))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 6, 5)
            self.pool = nn.MaxPool2d(2, 2)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(16 * 5 * 5, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, x):
            x = self.pool(F.relu(self.conv1(x)))
            x = self.pool(F.relu(self.conv2(x)))
            x = torch.flatten(x, 1) # flatten all dimensions except batch
            x = F.relu(self.fc1(x))
            x = F.relu(self.fc2(x))
            x = self.fc3(x)
            return x

    net = Net()
    if copy_from is not None:  # (test only: the other library's initial weights)
        net.load_state_dict({k: torch.tensor(v) for k, v in copy_from.items()})
    initial = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}

    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

    for epoch in range(epochs):  # loop over the dataset multiple times

        running_loss = 0.0
        for i, data in enumerate(trainloader, 0):
            # get the inputs; data is a list of [inputs, labels]
            inputs, labels = data

            # zero the parameter gradients
            optimizer.zero_grad()

            # forward + backward + optimize
            outputs = net(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())

            # print statistics
            running_loss += loss.item()
            if i % 8 == 7:    # print every 8 mini-batches
                print(f'[{epoch + 1}, {i + 1:5d}] loss: {running_loss / 8:.3f}')
                running_loss = 0.0

    print('Finished Training')

    PATH = os.path.join(folder, 'cifar_net.pth')
    torch.save(net.state_dict(), PATH)

    dataiter = iter(testloader)
    images, labels = next(dataiter)

    print('GroundTruth: ', ' '.join(f'{classes[labels[j]]:5s}' for j in range(4)))

    net = Net()
    net.load_state_dict(torch.load(PATH, weights_only=True))

    outputs = net(images)

    _, predicted = torch.max(outputs, 1)

    print('Predicted: ', ' '.join(f'{classes[predicted[j]]:5s}'
                                  for j in range(4)))

    correct = 0
    total = 0
    # since we're not training, we don't need to calculate the gradients for our outputs
    with torch.no_grad():
        for data in testloader:
            images, labels = data
            # calculate outputs by running images through the network
            outputs = net(images)
            # the class with the highest energy is what we choose as prediction
            _, predicted = torch.max(outputs.data, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()

    print(f'Accuracy of the network on the 10000 test images: {100 * correct // total} %')

    # prepare to count predictions for each class
    correct_pred = {classname: 0 for classname in classes}
    total_pred = {classname: 0 for classname in classes}

    # again no gradients needed
    with torch.no_grad():
        for data in testloader:
            images, labels = data
            outputs = net(images)
            _, predictions = torch.max(outputs, 1)
            # collect the correct predictions for each class
            for label, prediction in zip(labels, predictions):
                if label == prediction:
                    correct_pred[classes[label]] += 1
                total_pred[classes[label]] += 1

    # print accuracy for each class
    for classname, correct_count in correct_pred.items():
        if total_pred[classname] == 0:  # (test only: a class absent from the 40 test images)
            continue
        accuracy = 100 * float(correct_count) / total_pred[classname]
        print(f'Accuracy for class: {classname:5s} is {accuracy:.1f} %')
    return initial, losses, correct, sum(correct_pred.values()), log


def test_cifar10_tutorial_runs_and_learns(tmp_path):
    mathdl.manual_seed(0)
    _, losses, correct, per_class, log = cifar10_tutorial(mathdl, str(tmp_path), epochs=8)
    assert correct == per_class and correct >= 20  # of 40 (35 with seed 0; chance is 4)
    assert np.mean(losses[-8:]) < np.mean(losses[:8])
    assert len(log[0].split()) == 4 and log[0].split()[0] in ('plane', 'car', 'bird', 'cat', 'deer', 'dog', 'frog',
                                                              'horse', 'ship', 'truck')
    assert any(line.startswith("Accuracy of the network on the 10000 test images: ") for line in log)
    assert log[-1].startswith("Accuracy for class: ")


def test_cifar10_tutorial_matches_pytorch(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    init, ours, our_correct, _, our_log = cifar10_tutorial(mathdl, str(tmp_path / "a"), shuffle=False)
    _, theirs, their_correct, _, their_log = cifar10_tutorial(torch, str(tmp_path / "b"), shuffle=False, copy_from=init)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4)
    assert our_correct == their_correct and our_log == their_log
