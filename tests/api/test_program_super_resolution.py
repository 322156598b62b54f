# ruff: noqa: UP008, UP032, E501  (the public example's own idioms, kept as written)
"""PyTorch's examples/super_resolution (ESPCN) runs on mathdl with only the import and the data changed.

Kept: ``model.py``'s ``Net`` (``nn.Conv2d(1, 64, (5, 5), (1, 1), (2, 2))`` with tuple arguments,
``nn.PixelShuffle(upscale_factor)``, ``init.orthogonal_(w, init.calculate_gain('relu'))``) and
``main.py``'s training (Adam, MSELoss, the epoch print) and test (``psnr = 10 * log10(1 / mse.item())``),
and ``super_resolve.py``'s ``out[0].detach().numpy()`` post-processing.  Changed: BSDS300 becomes
smooth random images made here (the input a 2x2 average of the target), and the checkpoint saves the
state dict (``torch.save(model, ...)`` pickles the module; see test_program_word_lm_transformer).
One batch an epoch, so the shuffled order changes no loss: the run is compared with PyTorch's.
"""

from math import log10

import numpy as np
import pytest

import mathdl

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of this parity test")


class SmoothImages:
    """(low-resolution input, target) pairs: 1xHxW targets, sums of a few random sinusoids in [0, 1]."""

    def __init__(self, n, size, factor, seed):
        rng = np.random.default_rng(seed)
        yy, xx = np.mgrid[0:size, 0:size] / size
        targets = []
        for _ in range(n):
            f = rng.uniform(0.5, 3.0, (3, 2))
            img = sum(np.sin(2 * np.pi * (a * xx + b * yy) + rng.uniform(0, 6)) for a, b in f)
            targets.append(((img - img.min()) / (img.max() - img.min()))[None])
        self.targets = np.stack(targets).astype(np.float32)
        self.inputs = self.targets.reshape(n, 1, size // factor, factor, size // factor, factor).mean((3, 5))

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        return self.inputs[i], self.targets[i]


def super_resolution(torch, epochs=3, copy_from=None):
    nn, optim, init = torch.nn, torch.optim, torch.nn.init
    DataLoader = torch.utils.data.DataLoader
    log, history = [], {"train": [], "psnr": []}

    def print(*args):  # the example prints; the test keeps the lines
        log.append(" ".join(str(a) for a in args))

    class Net(nn.Module):
        def __init__(self, upscale_factor):
            super(Net, self).__init__()

            self.relu = nn.ReLU()
            self.conv1 = nn.Conv2d(1, 64, (5, 5), (1, 1), (2, 2))
            self.conv2 = nn.Conv2d(64, 64, (3, 3), (1, 1), (1, 1))
            self.conv3 = nn.Conv2d(64, 32, (3, 3), (1, 1), (1, 1))
            self.conv4 = nn.Conv2d(32, upscale_factor ** 2, (3, 3), (1, 1), (1, 1))
            self.pixel_shuffle = nn.PixelShuffle(upscale_factor)

            self._initialize_weights()

        def forward(self, x):
            x = self.relu(self.conv1(x))
            x = self.relu(self.conv2(x))
            x = self.relu(self.conv3(x))
            x = self.pixel_shuffle(self.conv4(x))
            return x

        def _initialize_weights(self):
            init.orthogonal_(self.conv1.weight, init.calculate_gain('relu'))
            init.orthogonal_(self.conv2.weight, init.calculate_gain('relu'))
            init.orthogonal_(self.conv3.weight, init.calculate_gain('relu'))
            init.orthogonal_(self.conv4.weight)

    class Opt:  # --upscale_factor 2 --batchSize 8 --testBatchSize 4 --nEpochs N --lr 0.001 --seed 123
        upscale_factor, batchSize, testBatchSize, nEpochs, lr, seed, threads = 2, 8, 4, epochs, 0.001, 123, 0
    opt = Opt()
    torch.manual_seed(opt.seed)
    device = torch.device("cpu")

    print('===> Loading datasets')
    train_set = SmoothImages(8, 16, opt.upscale_factor, seed=0)
    test_set = SmoothImages(4, 16, opt.upscale_factor, seed=1)
    training_data_loader = DataLoader(dataset=train_set, num_workers=opt.threads, batch_size=opt.batchSize, shuffle=True)
    testing_data_loader = DataLoader(dataset=test_set, num_workers=opt.threads, batch_size=opt.testBatchSize, shuffle=False)

    print('===> Building model')
    model = Net(upscale_factor=opt.upscale_factor).to(device)
    if copy_from is not None:  # (test only: the other library's initial weights)
        model.load_state_dict({k: torch.tensor(v) for k, v in copy_from.items()})
    initial = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    criterion = nn.MSELoss()

    optimizer = optim.Adam(model.parameters(), lr=opt.lr)

    def train(epoch):
        epoch_loss = 0
        for iteration, batch in enumerate(training_data_loader, 1):
            input, target = batch[0].to(device), batch[1].to(device)

            optimizer.zero_grad()
            loss = criterion(model(input), target)
            epoch_loss += loss.item()
            loss.backward()
            optimizer.step()
            history["train"].append(loss.item())

            print("===> Epoch[{}]({}/{}): Loss: {:.4f}".format(epoch, iteration, len(training_data_loader), loss.item()))

        print("===> Epoch {} Complete: Avg. Loss: {:.4f}".format(epoch, epoch_loss / len(training_data_loader)))

    def test():
        avg_psnr = 0
        with torch.no_grad():
            for batch in testing_data_loader:
                input, target = batch[0].to(device), batch[1].to(device)

                prediction = model(input)
                mse = criterion(prediction, target)
                psnr = 10 * log10(1 / mse.item())
                avg_psnr += psnr
        print("===> Avg. PSNR: {:.4f} dB".format(avg_psnr / len(testing_data_loader)))
        history["psnr"].append(avg_psnr / len(testing_data_loader))

    for epoch in range(1, opt.nEpochs + 1):
        train(epoch)
        test()

    # super_resolve.py's post-processing of one image
    input = torch.tensor(test_set[0][0]).view(1, -1, 8, 8)
    out = model(input)
    out_img_y = out[0].detach().numpy()
    out_img_y *= 255.0
    out_img_y = out_img_y.clip(0, 255)
    return initial, history, log, out_img_y


def test_super_resolution_runs_and_learns():
    _, history, log, out = super_resolution(mathdl, epochs=6)
    assert history["train"][-1] < history["train"][0] and history["psnr"][-1] > history["psnr"][0]
    assert log[2].startswith("===> Epoch[1](1/1): Loss: ") and out.shape == (1, 16, 16) and out.max() <= 255


def test_orthogonal_init_with_relu_gain():
    mathdl.manual_seed(0)
    w = mathdl.empty(64, 32, 3, 3)
    mathdl.nn.init.orthogonal_(w, mathdl.nn.init.calculate_gain('relu'))
    flat = w.numpy().reshape(64, -1)
    np.testing.assert_allclose(flat @ flat.T, 2.0 * np.eye(64), atol=1e-5)  # rows orthogonal, norm^2 = gain^2


def test_super_resolution_matches_pytorch():
    init, ours, _, our_out = super_resolution(mathdl)
    _, theirs, _, their_out = super_resolution(torch, copy_from=init)
    np.testing.assert_allclose(ours["train"], theirs["train"], rtol=1e-4)
    np.testing.assert_allclose(ours["psnr"], theirs["psnr"], rtol=1e-5)
    # pixels on the 0..255 scale: 5e-3 is 2e-5 of the range (Winograd F(4x4)'s float32 rounding, after training)
    np.testing.assert_allclose(our_out, their_out, rtol=1e-4, atol=5e-3)
