"""import mathdl shortens OpenBLAS's idle busy-wait (parallel.BLAS_THREAD_TIMEOUT), unless the user
set OPENBLAS_THREAD_TIMEOUT or MATHDL_BLAS_SPIN=1; each case in a fresh interpreter."""

import json
import os
import subprocess
import sys

import pytest

PROBE = """
import json, os, numpy
import mathdl
from threadpoolctl import ThreadpoolController
libs = [c for c in ThreadpoolController().lib_controllers if c.internal_api == "openblas"]
t = [c.dynlib.openblas_thread_timeout() for c in libs if hasattr(c.dynlib, "openblas_thread_timeout")]
import numpy as np
a = np.ones((300, 300))
ok = bool(np.allclose(a @ a, 300.0))  # products still right after the workers restarted
print(json.dumps({"env": os.environ.get("OPENBLAS_THREAD_TIMEOUT"), "lib": t, "ok": ok}))
"""


def _probe(**env):
    e = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_THREAD_TIMEOUT", "MATHDL_BLAS_SPIN")}
    e.update(env, OPENBLAS_NUM_THREADS="2")
    out = subprocess.run([sys.executable, "-c", PROBE], env=e, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_shortens_the_spin_of_loaded_openblas():
    r = _probe()
    assert r["ok"] and r["env"] == "20"
    if not r["lib"]:
        pytest.skip("NumPy's BLAS is not an OpenBLAS with openblas_thread_timeout")
    assert all(t == 20 for t in r["lib"])


def test_a_users_setting_and_the_opt_out_are_kept():
    r = _probe(OPENBLAS_THREAD_TIMEOUT="25")
    assert r["ok"] and r["env"] == "25" and all(t == 25 for t in r["lib"])
    r = _probe(MATHDL_BLAS_SPIN="1")
    assert r["ok"] and r["env"] is None and all(t != 20 for t in r["lib"])
