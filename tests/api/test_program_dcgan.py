# ruff: noqa: UP008, UP031, E201, E241, N806  (the public example's own idioms, kept as written)
"""PyTorch's examples/dcgan/main.py runs on mathdl with only the import and the data source changed.

The example transcribed with its idioms kept: argparse options, ``cudnn.benchmark = True``, the
``torch.backends.mps`` checks, ``weights_init`` choosing by ``classname.find('Conv')`` and
``m.weight.data.normal_(0.0, 0.02)`` / ``m.bias.data.fill_(0)`` applied with ``netG.apply``,
Generator (ConvTranspose2d, BatchNorm2d, ``nn.ReLU(True)``, Tanh) and Discriminator (Conv2d,
``LeakyReLU(0.2, inplace=True)``, Sigmoid, ``output.view(-1, 1).squeeze(1)``), BCELoss,
``torch.full((batch_size,), real_label, dtype=real_cpu.dtype, device=device)``, ``label.fill_``,
``fake.detach()``, two Adam optimizers with ``betas=(opt.beta1, 0.999)`` and the per-epoch
``torch.save(netG.state_dict(), ...)``.  Changed: the data (``--dataset fake``'s FakeData made here),
the image size (32, one stride-2 layer fewer on each side, so a test runs in seconds) and
``vutils.save_image`` (recorded).

The program draws its noise with ``torch.randn``; for the comparison with PyTorch both runs get the
same noise (a ``randn`` fed from one NumPy stream) and the same initial weights, in float64, with
one batch an epoch (the shuffled order of one batch changes no loss).
"""

import argparse
import os
import random
import textwrap
import types

import numpy as np
import pytest

import mathdl

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of this parity test")

IMPORTS = """
import torch
import torch.nn as nn
import torch.nn.parallel
import torch.backends.cudnn as cudnn
import torch.optim as optim
import torch.utils.data
"""


class FakeData:
    """torchvision's FakeData through ``transforms.ToTensor()``: random images in [0, 1], label 0."""

    def __init__(self, size, image_size, seed=0, dtype=np.float32):
        rng = np.random.default_rng(seed)
        self.images = rng.random((size,) + image_size).astype(dtype)

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        return self.images[index], 0


def dcgan_main(torch, argv, size=16, dtype=np.float32, copy_from=None):
    nn, optim = torch.nn, torch.optim
    cudnn = torch.backends.cudnn
    log, saved, history = [], {}, []

    def print(*args):  # the example prints; the test keeps the lines
        log.append(" ".join(str(a) for a in args))

    vutils = types.SimpleNamespace(  # torchvision.utils.save_image, recorded
        save_image=lambda tensor, path, normalize=False: saved.__setitem__(path, tuple(tensor.shape)))

    parser = argparse.ArgumentParser()
    parser.add_argument('--dataset', required=True, help='cifar10 | lsun | mnist |imagenet | folder | lfw | fake')
    parser.add_argument('--dataroot', required=False, help='path to dataset')
    parser.add_argument('--workers', type=int, help='number of data loading workers', default=2)
    parser.add_argument('--batchSize', type=int, default=64, help='input batch size')
    parser.add_argument('--imageSize', type=int, default=64, help='the height / width of the input image to network')
    parser.add_argument('--nz', type=int, default=100, help='size of the latent z vector')
    parser.add_argument('--ngf', type=int, default=64)
    parser.add_argument('--ndf', type=int, default=64)
    parser.add_argument('--niter', type=int, default=25, help='number of epochs to train for')
    parser.add_argument('--lr', type=float, default=0.0002, help='learning rate, default=0.0002')
    parser.add_argument('--beta1', type=float, default=0.5, help='beta1 for adam. default=0.5')
    parser.add_argument('--cuda', action='store_true', default=False, help='enables cuda')
    parser.add_argument('--dry-run', action='store_true', help='check a single training cycle works')
    parser.add_argument('--ngpu', type=int, default=1, help='number of GPUs to use')
    parser.add_argument('--netG', default='', help="path to netG (to continue training)")
    parser.add_argument('--netD', default='', help="path to netD (to continue training)")
    parser.add_argument('--outf', default='.', help='folder to output images and model checkpoints')
    parser.add_argument('--manualSeed', type=int, help='manual seed')
    parser.add_argument('--classes', default='bedroom', help='comma separated list of classes for the lsun data set')
    parser.add_argument('--mps', action='store_true', default=False, help='enables macOS GPU training')

    opt = parser.parse_args(argv)
    print(opt)

    try:
        os.makedirs(opt.outf)
    except OSError:
        pass

    if opt.manualSeed is None:
        opt.manualSeed = random.randint(1, 10000)
    print("Random Seed: ", opt.manualSeed)
    random.seed(opt.manualSeed)
    torch.manual_seed(opt.manualSeed)

    cudnn.benchmark = True

    if torch.cuda.is_available() and not opt.cuda:
        print("WARNING: You have a CUDA device, so you should probably run with --cuda")

    if torch.backends.mps.is_available() and not opt.mps:
        print("WARNING: You have mps device, to enable macOS GPU run with --mps")

    if opt.dataroot is None and str(opt.dataset).lower() != 'fake':
        raise ValueError("`dataroot` parameter is required for dataset \"%s\"" % opt.dataset)

    if opt.dataset == 'fake':
        dataset = FakeData(size, image_size=(3, opt.imageSize, opt.imageSize), dtype=dtype)
        nc=3

    assert dataset
    dataloader = torch.utils.data.DataLoader(dataset, batch_size=opt.batchSize,
                                             shuffle=True, num_workers=int(opt.workers))
    use_mps = opt.mps and torch.backends.mps.is_available()
    if opt.cuda:
        device = torch.device("cuda:0")
    elif use_mps:
        device = torch.device("mps")
    else:
        device = torch.device("cpu")

    ngpu = int(opt.ngpu)
    nz = int(opt.nz)
    ngf = int(opt.ngf)
    ndf = int(opt.ndf)

    # custom weights initialization called on netG and netD
    def weights_init(m):
        classname = m.__class__.__name__
        if classname.find('Conv') != -1:
            m.weight.data.normal_(0.0, 0.02)
        elif classname.find('BatchNorm') != -1:
            m.weight.data.normal_(1.0, 0.02)
            m.bias.data.fill_(0)

    class Generator(nn.Module):
        def __init__(self, ngpu):
            super(Generator, self).__init__()
            self.ngpu = ngpu
            self.main = nn.Sequential(
                # input is Z, going into a convolution
                nn.ConvTranspose2d(     nz, ngf * 4, 4, 1, 0, bias=False),
                nn.BatchNorm2d(ngf * 4),
                nn.ReLU(True),
                # state size. (ngf*4) x 4 x 4
                nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ngf * 2),
                nn.ReLU(True),
                # state size. (ngf*2) x 8 x 8
                nn.ConvTranspose2d(ngf * 2,     ngf, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ngf),
                nn.ReLU(True),
                # state size. (ngf) x 16 x 16
                nn.ConvTranspose2d(    ngf,      nc, 4, 2, 1, bias=False),
                nn.Tanh()
                # state size. (nc) x 32 x 32
            )

        def forward(self, input):
            if input.is_cuda and self.ngpu > 1:
                output = nn.parallel.data_parallel(self.main, input, range(self.ngpu))
            else:
                output = self.main(input)
            return output

    netG = Generator(ngpu).to(device)
    netG.apply(weights_init)
    if opt.netG != '':
        netG.load_state_dict(torch.load(opt.netG))
    print(netG)

    class Discriminator(nn.Module):
        def __init__(self, ngpu):
            super(Discriminator, self).__init__()
            self.ngpu = ngpu
            self.main = nn.Sequential(
                # input is (nc) x 32 x 32
                nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
                nn.LeakyReLU(0.2, inplace=True),
                # state size. (ndf) x 16 x 16
                nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ndf * 2),
                nn.LeakyReLU(0.2, inplace=True),
                # state size. (ndf*2) x 8 x 8
                nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ndf * 4),
                nn.LeakyReLU(0.2, inplace=True),
                # state size. (ndf*4) x 4 x 4
                nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False),
                nn.Sigmoid()
            )

        def forward(self, input):
            if input.is_cuda and self.ngpu > 1:
                output = nn.parallel.data_parallel(self.main, input, range(self.ngpu))
            else:
                output = self.main(input)

            return output.view(-1, 1).squeeze(1)

    netD = Discriminator(ngpu).to(device)
    netD.apply(weights_init)
    if opt.netD != '':
        netD.load_state_dict(torch.load(opt.netD))
    print(netD)

    if dtype == np.float64:  # the comparison with PyTorch runs in float64 from the other library's weights
        netG.double()
        netD.double()
    initial = {}
    for tag, net in (("G", netG), ("D", netD)):
        if copy_from is not None:
            net.load_state_dict({k: torch.tensor(v) for k, v in copy_from[tag].items()})
        initial[tag] = {k: v.detach().cpu().numpy().copy() for k, v in net.state_dict().items()}

    criterion = nn.BCELoss()

    fixed_noise = torch.randn(opt.batchSize, nz, 1, 1, device=device)
    real_label = 1
    fake_label = 0

    # setup optimizer
    optimizerD = optim.Adam(netD.parameters(), lr=opt.lr, betas=(opt.beta1, 0.999))
    optimizerG = optim.Adam(netG.parameters(), lr=opt.lr, betas=(opt.beta1, 0.999))

    if opt.dry_run:
        opt.niter = 1

    for epoch in range(opt.niter):
        for i, data in enumerate(dataloader, 0):
            ############################
            # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
            ###########################
            # train with real
            netD.zero_grad()
            real_cpu = data[0].to(device)
            batch_size = real_cpu.size(0)
            label = torch.full((batch_size,), real_label,
                               dtype=real_cpu.dtype, device=device)

            output = netD(real_cpu)
            errD_real = criterion(output, label)
            errD_real.backward()
            D_x = output.mean().item()

            # train with fake
            noise = torch.randn(batch_size, nz, 1, 1, device=device)
            fake = netG(noise)
            label.fill_(fake_label)
            output = netD(fake.detach())
            errD_fake = criterion(output, label)
            errD_fake.backward()
            D_G_z1 = output.mean().item()
            errD = errD_real + errD_fake
            optimizerD.step()

            ############################
            # (2) Update G network: maximize log(D(G(z)))
            ###########################
            netG.zero_grad()
            label.fill_(real_label)  # fake labels are real for generator cost
            output = netD(fake)
            errG = criterion(output, label)
            errG.backward()
            D_G_z2 = output.mean().item()
            optimizerG.step()

            print('[%d/%d][%d/%d] Loss_D: %.4f Loss_G: %.4f D(x): %.4f D(G(z)): %.4f / %.4f'
                  % (epoch, opt.niter, i, len(dataloader),
                     errD.item(), errG.item(), D_x, D_G_z1, D_G_z2))
            history.append((errD.item(), errG.item(), D_x, D_G_z1, D_G_z2))
            if i % 100 == 0:
                vutils.save_image(real_cpu,
                        '%s/real_samples.png' % opt.outf,
                        normalize=True)
                fake = netG(fixed_noise)
                vutils.save_image(fake.detach(),
                        '%s/fake_samples_epoch_%03d.png' % (opt.outf, epoch),
                        normalize=True)

            if opt.dry_run:
                break
        # do checkpointing
        torch.save(netG.state_dict(), '%s/netG_epoch_%d.pth' % (opt.outf, epoch))
        torch.save(netD.state_dict(), '%s/netD_epoch_%d.pth' % (opt.outf, epoch))
    return initial, history, log, saved, (netG, netD)


def argv(outf, *flags, **kw):
    args = {"--dataset": "fake", "--batchSize": 8, "--imageSize": 32, "--nz": 8, "--ngf": 4, "--ndf": 4,
            "--niter": 2, "--outf": outf, "--manualSeed": 999, "--lr": 0.002}
    args.update(kw)
    return [str(x) for kv in args.items() for x in kv] + list(flags)


def test_dcgan_imports_resolve_on_mathdl():
    exec(textwrap.dedent(IMPORTS).replace("torch", "mathdl"), {})


def test_dcgan_trains_and_checkpoints(tmp_path):
    _, history, log, saved, (netG, netD) = dcgan_main(mathdl, argv(str(tmp_path)))
    assert len(history) == 4 and np.all(np.isfinite(history))
    assert log[1] == "Random Seed:  999" and log[-1].startswith("[1/2][1/2] Loss_D: ")
    assert saved[f"{tmp_path}/fake_samples_epoch_001.png"] == (8, 3, 32, 32)
    # weights_init: N(0, 0.02) conv weights, N(1, 0.02) batch-norm scales, zero shifts
    w = np.concatenate([m.weight.detach().numpy().ravel() for m in netD.modules() if type(m).__name__ == "Conv2d"])
    assert abs(w.std() - 0.02) < 0.004  # the first steps move it little
    state = mathdl.load(f"{tmp_path}/netG_epoch_1.pth")
    assert "main.1.running_mean" in state and tuple(state["main.0.weight"].shape) == (8, 16, 4, 4)
    # --netG / --netD continue from the checkpoints
    _, _, log, _, (netG2, _) = dcgan_main(mathdl, argv(str(tmp_path), "--dry-run", **{
        "--netG": f"{tmp_path}/netG_epoch_1.pth", "--netD": f"{tmp_path}/netD_epoch_1.pth"}))
    assert log[-1].startswith("[0/1][0/2]")
    # loaded, then one Adam step (each weight moves by about lr = 0.002; a fresh init would be ~0.03 away)
    step = netG2.main[0].weight.detach().numpy() - state["main.0.weight"].numpy()
    assert np.abs(step).max() < 0.0025


def test_weights_init_statistics():
    # m.weight.data.normal_(0.0, 0.02) on a module chosen by classname.find('Conv')
    mathdl.manual_seed(0)
    m = mathdl.nn.ConvTranspose2d(64, 64, 4)
    m.weight.data.normal_(0.0, 0.02)
    w = m.weight.detach().numpy()
    assert abs(w.mean()) < 0.001 and abs(w.std() - 0.02) < 0.001 and m.weight.requires_grad
    bn = mathdl.nn.BatchNorm2d(5)
    bn.bias.data.fill_(0)
    bn.weight.data.normal_(1.0, 0.02)
    assert bn.bias.detach().numpy().tolist() == [0.0] * 5 and bn.weight.is_leaf


class SameNoise(types.ModuleType):
    """The library ``lib`` with ``randn`` drawn from one NumPy stream (float64), so two libraries see
    the same noise; everything else is ``lib``'s."""

    def __init__(self, lib, seed):
        super().__init__(lib.__name__)
        self._lib, self._rng = lib, np.random.default_rng(seed)

    def __getattr__(self, name):
        return getattr(self._lib, name)

    def randn(self, *size, device=None):
        return self._lib.tensor(self._rng.standard_normal(size))


def test_dcgan_matches_pytorch(tmp_path):
    args = argv(str(tmp_path), **{"--batchSize": 16, "--niter": 3})  # one batch an epoch
    init, ours, *_ = dcgan_main(SameNoise(mathdl, 5), args, dtype=np.float64)
    _, theirs, *_ = dcgan_main(SameNoise(torch, 5), args, dtype=np.float64, copy_from=init)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)
