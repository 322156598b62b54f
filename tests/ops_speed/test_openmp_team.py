"""mathdl/openmp_team.py: convolution regions on numba's OpenMP team: every piece once, errors raised,
nested regions serial, the same bits as one thread, off in a forked child and with MATHDL_OPENMP=0."""

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from mathdl import openmp_team, parallel
from mathdl.ops import select_kernels

pytestmark = pytest.mark.skipif(not openmp_team.available(), reason="no OpenMP team (numba's omp layer missing, "
                                                                    "MATHDL_NO_NUMBA=1 or MATHDL_OPENMP=0)")


@pytest.fixture
def two():
    old = parallel.get_num_threads()
    parallel.set_num_threads(2)
    yield
    parallel.set_num_threads(old)


def test_on_team_needs_two_threads_within_the_limit(two):
    assert parallel.on_team() == (openmp_team.max_threads() >= 2)
    parallel.set_num_threads(1)
    assert not parallel.on_team()
    parallel.set_num_threads(openmp_team.max_threads() + 1)
    assert not parallel.on_team()  # more threads than numba's team has: the Python pool


def test_blocks_run_each_index_once_on_the_team(two):
    if not parallel.on_team():
        pytest.skip("one core")
    seen, names = [], set()

    def fn(k):
        seen.append(k)
        names.add(threading.current_thread().name)
        assert parallel.in_worker()  # nested regions run serially inside a piece
        return k * k

    assert parallel.blocks(fn, 9) == [k * k for k in range(9)]
    assert sorted(seen) == list(range(9))
    assert not parallel.in_worker()
    assert not any(n.startswith("mathdl_") for n in names)  # no Python pool thread took a piece


def test_an_error_in_a_piece_is_raised_and_the_team_still_works(two):
    def fn(k):
        if k == 3:
            raise ValueError("piece 3 failed")
        return k

    with pytest.raises(ValueError, match="piece 3 failed"):
        parallel.blocks(fn, 6)
    assert parallel.blocks(lambda k: k + 1, 4) == [1, 2, 3, 4]
    assert not parallel.in_worker()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_select_loops_on_the_team_equal_one_thread(two, dtype):
    rng = np.random.default_rng(0)
    a = rng.standard_normal(3 * select_kernels.TEAM_MIN_WORK).astype(dtype)
    b = rng.standard_normal(a.size).astype(dtype)
    a[::97] = np.nan
    assert select_kernels.usable(a, b)
    got = [select_kernels.relu(a), select_kernels.add_relu(a, b), select_kernels.relu_backward(a, b)]
    parallel.set_num_threads(1)
    want = [select_kernels.relu(a), select_kernels.add_relu(a, b), select_kernels.relu_backward(a, b)]
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    np.testing.assert_array_equal(want[1], np.where(a + b <= 0, 0, a + b))


def test_resnet_step_on_the_team_equals_the_python_pool():
    """The same training step with the team and without it (MATHDL_OPENMP=0), in fresh processes at 2
    threads: the tiles and chunks do not depend on who runs them, so the losses agree bit for bit."""
    code = ("import mathdl, numpy as np\n"
            "from mathdl import nn, parallel\n"
            "from mathdl.data.registry import DatasetSpec\n"
            "from mathdl.models import build_model\n"
            "mathdl.manual_seed(0)\n"
            "m = build_model('resnet20', DatasetSpec(None, None, (3, 32, 32), 10))\n"
            "x = mathdl.randn(16, 3, 32, 32); y = mathdl.randint(0, 10, (16,))\n"
            "opt = mathdl.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)\n"
            "out = []\n"
            "for _ in range(3):\n"
            "    opt.zero_grad(); l = nn.CrossEntropyLoss()(m(x), y); l.backward(); opt.step(); out.append(l.item())\n"
            "print(parallel.on_team(), repr(out))\n")
    runs = []
    for flag in ("1", "0"):
        env = dict(os.environ, MATHDL_NUM_THREADS="2", MATHDL_OPENMP=flag)
        res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
        runs.append(res.stdout.split(" ", 1))
    assert runs[1][0] == "False"
    assert runs[0][1] == runs[1][1]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")
def test_a_forked_child_does_not_use_the_parents_team(two):
    """GNU OpenMP cannot run in a fork of a process that started it: the child's regions run without it."""
    parallel.blocks(lambda k: k, 4)  # the parent's team is up
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        ok = 0
        try:
            ok = int(not openmp_team.available() and not parallel.on_team()
                     and parallel.blocks(lambda k: 2 * k, 5) == [0, 2, 4, 6, 8])
        finally:
            os.write(w, bytes([ok]))
            os._exit(0)
    os.close(w)
    got = os.read(r, 1)
    os.waitpid(pid, 0)
    assert got == b"\x01"


def test_disabled_by_environment():
    env = dict(os.environ, MATHDL_OPENMP="0", MATHDL_NUM_THREADS="2")
    code = "from mathdl import openmp_team, parallel; print(openmp_team.available(), parallel.on_team())"
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert res.stdout.split() == ["False", "False"], res.stderr



@pytest.mark.parametrize("relu", [False, True])
def test_channel_major_batch_norm_on_the_team_equals_one_thread(two, relu):
    """A channel-major (C, N, H, W) input (a stem convolution's output): its channels shared out on the
    team, the same bits as the serial loop, forward and backward."""
    import mathdl
    import mathdl.nn.functional as F
    from mathdl.ops import normalization, row_kernels

    if not row_kernels.available():
        pytest.skip("compiled loops off")
    rng = np.random.default_rng(3)
    xa = np.ascontiguousarray(rng.standard_normal((16, 8, 24, 24)).astype(np.float32)).transpose(1, 0, 2, 3)
    g = rng.standard_normal(xa.shape).astype(np.float32)
    w, b = rng.standard_normal(16).astype(np.float32), rng.standard_normal(16).astype(np.float32)
    assert normalization._cl_team(3 * xa.size) == 2
    outs = []
    for n in (2, 1):
        parallel.set_num_threads(n)
        x = mathdl.from_numpy(xa.copy()).requires_grad_()
        wt, bt = mathdl.tensor(w, requires_grad=True), mathdl.tensor(b, requires_grad=True)
        y = F.batch_norm(x, None, None, wt, bt, training=True, relu=relu)
        y.backward(mathdl.from_numpy(g))
        outs.append([y.numpy(), x.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()])
    for a, r in zip(*outs):
        np.testing.assert_array_equal(a, r)


def test_only_image_activations_use_the_team(two, monkeypatch):
    """An MLP's or a transformer's ReLU stays off the team (its products run on BLAS's own threads,
    which the team's polling threads would slow down); a CNN's 4-D activations use it."""
    calls = []
    monkeypatch.setattr(openmp_team, "use_threads", lambda n: calls.append(n))
    rng = np.random.default_rng(0)
    for shape in [(512, 512), (16, 64, 128)]:
        a = rng.standard_normal(shape).astype(np.float32)
        assert select_kernels.usable(a)
        np.testing.assert_array_equal(select_kernels.relu(a), np.maximum(a, 0))
    assert calls == []
    img = rng.standard_normal((8, 16, 32, 32)).astype(np.float32)
    np.testing.assert_array_equal(select_kernels.relu(img), np.maximum(img, 0))
    assert calls == ([2] if parallel.on_team() else [])
