"""nn.DataParallel (mathdl/nn/parallel): PyTorch's wrapper on one device, state-dict keys included."""

import numpy as np
import pytest

import mathdl
from mathdl import nn

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of this parity test")


def test_data_parallel_calls_the_module_and_prefixes_state_dict_keys_as_pytorch():
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    dp = nn.DataParallel(net)
    tnet = torch.nn.DataParallel(torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4)))
    assert list(dp.state_dict()) == list(tnet.state_dict())  # 'module.0.weight', ...
    assert dp.module is net and nn.parallel.DataParallel is nn.DataParallel
    tnet.load_state_dict({k: torch.tensor(v.numpy()) for k, v in dp.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    out = dp(mathdl.tensor(x))
    np.testing.assert_allclose(out.detach().numpy(), tnet(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    out.sum().backward()
    assert net[0].weight.grad is not None


def test_checkpoint_through_the_wrapper_loads_into_a_wrapper(tmp_path):
    dp = nn.DataParallel(nn.Linear(2, 2))
    mathdl.save({"net": dp.state_dict()}, tmp_path / "c.pth")
    other = nn.DataParallel(nn.Linear(2, 2))
    other.load_state_dict(mathdl.load(tmp_path / "c.pth")["net"])
    np.testing.assert_array_equal(other.module.weight.numpy(), dp.module.weight.numpy())


def test_distributed_data_parallel_is_reachable_from_nn_parallel():
    from mathdl.distributed import DistributedDataParallel

    assert nn.parallel.DistributedDataParallel is DistributedDataParallel


@pytest.mark.parametrize("args, kwargs, error, words", [
    ((np.zeros(2),), {}, TypeError, "module must be"),
    ((None,), {}, TypeError, "module must be"),
    (("lin",), {"device_ids": [-1]}, ValueError, "device ids"),
    (("lin",), {"dim": 0.5}, TypeError, "dim"),
])
def test_bad_arguments(args, kwargs, error, words):
    args = tuple(nn.Linear(1, 1) if isinstance(a, str) else a for a in args)
    with pytest.raises(error, match=words):
        nn.DataParallel(*args, **kwargs)


def test_functional_data_parallel_runs_the_module():
    # dcgan: nn.parallel.data_parallel(self.main, input, range(self.ngpu)) (PyTorch's needs a GPU to run at all)
    net = nn.Linear(3, 2)
    x = mathdl.tensor(np.ones((4, 3), dtype=np.float32))
    np.testing.assert_array_equal(nn.parallel.data_parallel(net, x).detach().numpy(), net(x).detach().numpy())
    out = nn.parallel.data_parallel(net, (x,), range(1), module_kwargs={})
    np.testing.assert_array_equal(out.detach().numpy(), net(x).detach().numpy())
