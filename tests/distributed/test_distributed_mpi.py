"""Distributed checks on 2 real MPI ranks (one ``mpiexec`` launch for all of them, see mpi_worker.py),
and the fault paths (a raising rank, a collective that times out), each one launch."""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import pytest



@pytest.fixture(scope="module")
def launch(tmp_path_factory, run_mpi, worker):
    out = tmp_path_factory.mktemp("mpi")
    proc = run_mpi([sys.executable, worker, "checks", out])
    return proc, out, time.time()


@pytest.fixture(scope="module")
def ranks(launch):
    proc, out, _ = launch
    if not (out / "rank1.json").exists():
        pytest.fail(f"the 2-rank checks did not finish:\n{proc.stderr[-3000:]}")
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]


def test_group(ranks):
    assert [r["rank"] for r in ranks] == [0, 1]
    assert all(r["world"] == 2 for r in ranks)
    assert sorted(r["local_rank"] for r in ranks) == [0, 1]
    assert [r["main"] for r in ranks] == [True, False]


def test_collectives(ranks):
    a = np.arange(6.0).reshape(2, 3)
    for r in ranks:
        np.testing.assert_array_equal(r["sum"], a + (a + 10))
        np.testing.assert_array_equal(r["avg"], a + 5)
        np.testing.assert_array_equal(r["max"], a + 10)
        np.testing.assert_array_equal(r["min32"], a)
        assert r["int_sum"] == [3, 10]
        np.testing.assert_array_equal(r["noncontig"], (a + a + 1).T)
        assert r["bcast"] == [1.0, 7.0]
        assert r["gather"] == [[0.0] * 3, [1.0] * 3]
        assert r["gather_t"] == [0.0, 0.5, 1.0, 1.5]
    # reduce_scatter: sum over ranks of arange(4) * (rank + 1) = 3 * arange(4), split in two
    assert ranks[0]["rs_t"] == [0.0, 3.0] and ranks[1]["rs_t"] == [6.0, 9.0]
    assert ranks[0]["rs"] == [0.5, 0.5] and ranks[1]["rs"] == [10.5, 10.5]


def test_collective_bad_inputs(ranks):
    r = ranks[0]
    assert "src must be a rank in 0..1" in r["bad_src"]
    assert "'avg' needs a floating-point tensor" in r["bad_avg_int"]
    assert "expected a list of 2 tensors" in r["bad_gather_list"]


def test_ddp_matches_single_process_with_full_batch(ranks):
    for r in ranks:
        assert r["buckets_0.0001"] == 6 and r["buckets_25"] == 1  # per-parameter buckets, and one for all
        assert r["max_diff_vs_single"] < 1e-12  # 7 SGD steps, float64: equal to rounding
        assert r["max_diff_without_sync"] > 1e-3  # the check can fail: one shard alone goes elsewhere
        assert r["ranks_equal"]


def test_same_seed_same_run(ranks):
    for r in ranks:
        assert r["rerun_bitwise"]
        assert r["same_seed_same_run"]


def test_no_sync_accumulates_locally_then_averages(ranks):
    for r in ranks:
        assert r["no_sync_grads_differ"]
        assert r["no_sync_max_diff"] < 1e-14


def test_buffers_broadcast_from_rank0(ranks):
    for r in ranks:
        assert r["bn_differ_after_local_step"]
        assert r["bn_equal_after_broadcast"]


def test_bad_models_and_batch(ranks):
    for r in ranks:
        assert "differs across ranks" in r["mismatch"] and "rank 1 has 4" in r["mismatch"]
        assert "b.weight, b.bias" in r["unused"]
        assert "--batch-size 7 is not divisible by the 2 processes" in r["bad_batch"]


def test_distributed_analysis(ranks):
    assert [r["grid_mine"] for r in ranks] == [3, 2]
    for r in ranks:
        assert r["grid_max_diff"] < 1e-12
        assert r["hvp_max_diff"] < 1e-12 * max(1.0, r["hvp_scale"])
        assert r["sampler_union"] == list(range(11)) and r["sampler_len"] == 6
        for op in ("hessian", "ggn"):  # mean loss over unequal shards: weighted by shard size
            assert r[f"{op}_op_max_diff"] < 1e-12
            assert r[f"{op}_op_unweighted_diff"] > 1e-6  # the plain average would be wrong


def test_raising_rank_ends_every_rank(launch):
    proc, out, ended = launch
    raised = float((out / "raised_at").read_text())
    assert proc.returncode != 0
    assert ended - raised < 20  # rank 0 would otherwise wait 120 s in its barrier
    assert "rank 1 of 2 failed: ValueError: boom from the test" in proc.stderr


def test_collective_timeout_aborts(tmp_path, run_mpi, worker):
    t0 = time.monotonic()
    proc = run_mpi([sys.executable, worker, "timeout", tmp_path], timeout=60)
    elapsed = time.monotonic() - t0
    assert proc.returncode != 0
    assert elapsed < 30
    assert "rank 0 of 2 failed: DistributedTimeoutError: all_reduce(sum" in proc.stderr
    assert "timed out after 1 s" in proc.stderr
