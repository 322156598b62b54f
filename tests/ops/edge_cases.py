"""Generated edge cases for every op of the table (PyTorch's OpInfo idea: sample, reference and
error inputs from one row).

From each row's samples the generator derives, without any per-op code:

  extremal   every floating input refilled with the extremal values (+-0, +-inf, NaN, +-1e30,
             +-denormal, +-1, +-0.5, +-2, 3.7), in float32 and float64
  zero_dim   every floating input replaced by a 0-d tensor
  empty      every array input cut to length 0 along its first axis (size-0 tensors)
  int, bool  every floating input cast to int64 / bool (no gradient)

and each case is run through mathdl and PyTorch: both must fail, or both must give the same
shapes, dtypes and values -- NaN exactly where PyTorch has NaN, +-inf where it has +-inf,
finite values close -- and, for floating inputs, the same gradients under the same rule.
"""

from __future__ import annotations

import math

import numpy as np

import mathdl as md
import mathdl.nn.functional as F

from .op_table import NONDIFF, OPS, OpInfo, Sample, T, away, rn, unary

INF, NAN = math.inf, math.nan
EXTREMAL = {
    np.float32: [0.0, -0.0, INF, -INF, NAN, 1e30, -1e30, 1e-40, -1e-40, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 3.7],
    np.float64: [0.0, -0.0, INF, -INF, NAN, 1e30, -1e30, 5e-320, -5e-320, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 3.7],
}

# --------------------------------------------------------------------------- rows for the fused activations
ACTIVATIONS = [
    OpInfo(name, getattr(F, name), (lambda n: lambda *a, **k: getattr(T().nn.functional, n)(*a, **k))(name),
           unary(away), rtol32=1e-4, atol32=1e-5)
    for name in ["gelu", "silu", "softplus", "mish", "elu", "selu", "celu", "leaky_relu", "logsigmoid",
                 "hardtanh", "relu6", "hardsigmoid", "hardswish", "softsign", "sigmoid", "tanh", "relu"]
] + [
    OpInfo("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"),
           lambda x: T().nn.functional.gelu(x, approximate="tanh"), unary(rn)),
    OpInfo("softplus_beta", lambda x: F.softplus(x, beta=2.0, threshold=5.0),
           lambda x: T().nn.functional.softplus(x, beta=2.0, threshold=5.0), unary(rn)),
    OpInfo("leaky_relu_big_slope", lambda x: F.leaky_relu(x, 1.5),
           lambda x: T().nn.functional.leaky_relu(x, 1.5), unary(away)),
    OpInfo("celu_alpha", lambda x: F.celu(x, alpha=0.5), lambda x: T().nn.functional.celu(x, alpha=0.5), unary(rn)),
]


# --------------------------------------------------------------------------- rows for the fused nn primitives
def _tfn(name):
    return lambda *a, **k: getattr(T().nn.functional, name)(*a, **k)


def _cls(rng, n, c):
    return np.asarray(rng.integers(0, c, n))


def _prob(rng, *shape):
    return np.asarray(rng.uniform(0.1, 0.9, shape))


NN_OPS = [
    OpInfo("F.linear", F.linear, _tfn("linear"), lambda rng: [Sample((rn(rng, 2, 3), rn(rng, 4, 3), rn(rng, 4)))]),
    OpInfo("F.conv1d", F.conv1d, _tfn("conv1d"), lambda rng: [Sample((rn(rng, 2, 2, 5), rn(rng, 3, 2, 3)))]),
    OpInfo("F.conv2d", F.conv2d, _tfn("conv2d"),
           lambda rng: [Sample((rn(rng, 1, 2, 4, 4), rn(rng, 3, 2, 3, 3), rn(rng, 3)), {"padding": 1}),
                        Sample((rn(rng, 2, 1, 5, 5), rn(rng, 2, 1, 2, 2)), {"stride": 2})]),
    OpInfo("F.max_pool2d", F.max_pool2d, _tfn("max_pool2d"),
           lambda rng: [Sample((rn(rng, 1, 2, 4, 4),), {"kernel_size": 2})]),
    OpInfo("F.avg_pool2d", F.avg_pool2d, _tfn("avg_pool2d"),
           lambda rng: [Sample((rn(rng, 1, 2, 4, 4),), {"kernel_size": 2})]),
    OpInfo("F.layer_norm", lambda x, w, b: F.layer_norm(x, (3,), w, b),
           lambda x, w, b: T().nn.functional.layer_norm(x, (3,), w, b),
           lambda rng: [Sample((rn(rng, 2, 3), rn(rng, 3), rn(rng, 3)))]),
    OpInfo("F.batch_norm", lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
           lambda x, w, b: T().nn.functional.batch_norm(x, None, None, w, b, training=True),
           lambda rng: [Sample((rn(rng, 4, 3), rn(rng, 3), rn(rng, 3)))]),
    OpInfo("F.group_norm", lambda x: F.group_norm(x, 2), lambda x: T().nn.functional.group_norm(x, 2),
           lambda rng: [Sample((rn(rng, 2, 4, 3),))]),
    OpInfo("F.cross_entropy", F.cross_entropy, _tfn("cross_entropy"),
           lambda rng: [Sample((rn(rng, 4, 3), _cls(rng, 4, 3)))]),
    OpInfo("F.nll_loss", lambda x, t: F.nll_loss(F.log_softmax(x, 1), t),
           lambda x, t: T().nn.functional.nll_loss(T().nn.functional.log_softmax(x, 1), t),
           lambda rng: [Sample((rn(rng, 4, 3), _cls(rng, 4, 3)))]),
    OpInfo("F.mse_loss", F.mse_loss, _tfn("mse_loss"), lambda rng: [Sample((rn(rng, 2, 3), rn(rng, 2, 3)))]),
    OpInfo("F.l1_loss", F.l1_loss, _tfn("l1_loss"), lambda rng: [Sample((rn(rng, 2, 3), rn(rng, 2, 3)))]),
    OpInfo("F.smooth_l1_loss", F.smooth_l1_loss, _tfn("smooth_l1_loss"),
           lambda rng: [Sample((rn(rng, 2, 3), rn(rng, 2, 3)))]),
    OpInfo("F.huber_loss", F.huber_loss, _tfn("huber_loss"), lambda rng: [Sample((rn(rng, 2, 3), rn(rng, 2, 3)))]),
    OpInfo("F.binary_cross_entropy", F.binary_cross_entropy, _tfn("binary_cross_entropy"),
           lambda rng: [Sample((_prob(rng, 2, 3), _prob(rng, 2, 3)))]),
    OpInfo("F.binary_cross_entropy_with_logits", F.binary_cross_entropy_with_logits,
           _tfn("binary_cross_entropy_with_logits"), lambda rng: [Sample((rn(rng, 2, 3), _prob(rng, 2, 3)))]),
    OpInfo("F.kl_div", lambda a, b: F.kl_div(a, b, reduction="batchmean"),
           lambda a, b: T().nn.functional.kl_div(a, b, reduction="batchmean"),
           lambda rng: [Sample((rn(rng, 2, 3), _prob(rng, 2, 3)))]),
    OpInfo("F.cosine_similarity", F.cosine_similarity, _tfn("cosine_similarity"),
           lambda rng: [Sample((rn(rng, 2, 3), rn(rng, 2, 3)))]),
    OpInfo("F.pairwise_distance", F.pairwise_distance, _tfn("pairwise_distance"),
           lambda rng: [Sample((rn(rng, 2, 3), rn(rng, 2, 3)))]),
    OpInfo("F.normalize", F.normalize, _tfn("normalize"), lambda rng: [Sample((rn(rng, 2, 3),))]),
    OpInfo("F.softmin", lambda x: F.softmin(x, 1), lambda x: T().nn.functional.softmin(x, 1),
           lambda rng: [Sample((rn(rng, 2, 3),))]),
    OpInfo("F.scaled_dot_product_attention", F.scaled_dot_product_attention, _tfn("scaled_dot_product_attention"),
           lambda rng: [Sample((rn(rng, 1, 3, 2), rn(rng, 1, 4, 2), rn(rng, 1, 4, 2)))]),
    OpInfo("F.embedding", lambda i, w: F.embedding(i, w), lambda i, w: T().nn.functional.embedding(i, w),
           lambda rng: [Sample((np.array([[0, 2], [1, 1]]), rn(rng, 3, 2)))]),
]

EDGE_OPS = [o for o in OPS + NONDIFF + ACTIVATIONS + NN_OPS if o.torch_fn is not None]

# ops whose gradient (or index choice) is only defined up to ties: the extremal fills repeat
# values (0.0 == -0.0, inf, ...), so only their forward values are compared there
TIES = {
    "max_all", "min_all", "max_dim", "min_dim", "amax", "amin", "sort", "topk", "msort", "norm", "median",
    "median_dim", "nanmedian", "quantile", "quantile_vector_q", "kthvalue", "cummax", "cummin", "maximum",
    "minimum", "clamp", "clamp_tensor", "linalg.norm", "linalg.vector_norm", "linalg.matrix_norm", "fmax", "fmin",
    "argsort", "sort_indices", "topk_indices", "max_dim_indices", "min_dim_indices", "argmax", "argmin",
    "cdist", "relu", "relu6", "hardtanh", "leaky_relu", "leaky_relu_big_slope", "abs", "hardswish",
}
# index outputs among tied values are arbitrary: no extremal fills for them
TIED_INDICES = {"argsort", "sort_indices", "topk_indices", "max_dim_indices", "min_dim_indices"}
# matrix functions: NaN/inf inputs make LAPACK fail or return arbitrary factors; only their
# empty/0-d/integer behaviour is compared
NO_EXTREMAL = {n for n in (o.name for o in EDGE_OPS) if n.startswith("linalg.")} | {"slogdet_sign"}
# searches need a sorted sequence, which an extremal fill is not
NO_EXTREMAL |= {"searchsorted", "bucketize", "unique"}


def extremal_fill(a, dtype, seed):
    """``a``'s shape filled with the extremal values (cycled, shuffled by ``seed``)."""
    vals = np.array(EXTREMAL[dtype], dtype=dtype)
    n = a.size
    rng = np.random.default_rng(seed)
    reps = np.resize(vals, max(n, 1))
    return rng.permutation(reps)[:n].reshape(a.shape).astype(dtype)


def _is_float(a):
    return isinstance(a, np.ndarray) and a.dtype.kind == "f"


def variants(op: OpInfo, samples):
    """(variant name, dtype, Sample, compare gradients) for the generated cases of one op."""
    out = []
    for i, s in enumerate(samples):
        floats = [a for a in s.args if _is_float(a)]
        if not floats:
            continue
        if op.name not in NO_EXTREMAL and op.name not in TIED_INDICES:
            for dt in (np.float32, np.float64):
                args = tuple(extremal_fill(a, dt, 1000 * i + j) if _is_float(a) else a
                             for j, a in enumerate(s.args))
                out.append(("extremal", dt, Sample(args, dict(s.kwargs)), op.grad and op.name not in TIES))
        args = tuple(np.asarray(a.reshape(-1)[0] if a.size else 0.5) if _is_float(a) else a for a in s.args)
        out.append(("zero_dim", np.float64, Sample(args, dict(s.kwargs)), op.grad))
        args = tuple(a[:0] if isinstance(a, np.ndarray) and a.ndim >= 1 else a for a in s.args)
        if any(isinstance(a, np.ndarray) and a.size == 0 for a in args):
            out.append(("empty", np.float64, Sample(args, dict(s.kwargs)), op.grad))
        with np.errstate(invalid="ignore"):
            args = tuple(np.asarray(np.round(a * 2).astype(np.int64)) if _is_float(a) else a for a in s.args)
        out.append(("int", np.float64, Sample(args, dict(s.kwargs)), False))
        args = tuple(np.asarray(a > 0) if _is_float(a) else a for a in s.args)
        out.append(("bool", np.float64, Sample(args, dict(s.kwargs)), False))
    return out


# --------------------------------------------------------------------------- comparison
LENIENT: set = set()  # (op, kind) where torch refuses the input and mathdl computes a result

def _to_md(args, dtype, grad):
    out = []
    for a in args:
        if _is_float(a):
            out.append(md.tensor(a.astype(dtype), requires_grad=grad))
        elif isinstance(a, np.ndarray):
            out.append(md.tensor(a))
        else:
            out.append(a)
    return out


def _to_torch(args, dtype, grad):
    torch = T()
    out = []
    for a in args:
        if _is_float(a):
            out.append(torch.tensor(a.astype(dtype), requires_grad=grad))
        elif isinstance(a, np.ndarray):
            out.append(torch.from_numpy(a.copy()))
        else:
            out.append(a)
    return out


def _as_list(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


def _torch_array(t):
    if t is None:
        return None
    try:
        return t.detach().cpu().numpy() if t.dtype != T().bfloat16 else t.detach().float().numpy()
    except RuntimeError:  # a ZeroTensor gradient
        return np.zeros(tuple(t.shape), dtype=np.float64)


def compare_arrays(got, want, rtol, atol, what):
    """'' if ``got`` matches ``want`` (same shape; NaN and +-inf at the same places; finite
    values close), else a one-line description of the difference."""
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        return f"{what}: shape {got.shape} vs torch {want.shape}"
    if want.dtype.kind in "biu" or got.dtype.kind in "biu":
        if not np.array_equal(got.astype(np.float64), want.astype(np.float64), equal_nan=True):
            bad = np.flatnonzero(got.astype(np.float64) != want.astype(np.float64))[:3]
            return f"{what}: values {got.reshape(-1)[bad]} vs torch {want.reshape(-1)[bad]}"
        return ""
    g, w = got.astype(np.float64), want.astype(np.float64)
    gn, wn = np.isnan(g), np.isnan(w)
    if (gn != wn).any():
        k = np.flatnonzero(gn != wn)[:3]
        return f"{what}: NaN mismatch, got {g.reshape(-1)[k]} where torch has {w.reshape(-1)[k]}"
    gi, wi = np.isinf(g), np.isinf(w)
    if (gi != wi).any() or (g[gi] != w[wi]).any():
        k = np.flatnonzero((gi != wi) | (gi & (g != w)))[:3]
        return f"{what}: inf mismatch, got {g.reshape(-1)[k]} where torch has {w.reshape(-1)[k]}"
    fin = ~(gn | gi)
    if not np.allclose(g[fin], w[fin], rtol=rtol, atol=atol):
        d = np.abs(g[fin] - w[fin]) - rtol * np.abs(w[fin])
        k = int(np.argmax(d))
        return f"{what}: value {g[fin][k]!r} vs torch {w[fin][k]!r}"
    return ""


def run_case(op, kind, dtype, sample, with_grad):
    """'' if mathdl agrees with torch on this case, else why not."""
    rtol, atol = (max(op.rtol32, 1e-4), max(op.atol32, 1e-5)) if dtype == np.float32 else (1e-6, 1e-9)
    err_t = err_m = None
    try:
        xt = _to_torch(sample.args, dtype, with_grad)
        with np.errstate(all="ignore"):
            outs_t = _as_list(op.torch_fn(*xt, **sample.kwargs))
    except Exception as e:  # noqa: BLE001 - any refusal counts
        err_t = e
    try:
        xm = _to_md(sample.args, dtype, with_grad)
        with np.errstate(all="ignore"):
            outs_m = _as_list(op.fn(*xm, **sample.kwargs))
    except Exception as e:  # noqa: BLE001
        err_m = e
    if err_t is not None:  # mathdl may accept more than torch (counted, not failed: see LENIENT)
        if err_m is None:
            LENIENT.add((op.name, kind))
        return ""
    if err_m is not None:
        return f"mathdl raises {type(err_m).__name__}: {str(err_m)[:120]}"
    if len(outs_m) != len(outs_t):
        return f"{len(outs_m)} outputs vs torch's {len(outs_t)}"
    for k, (om, ot) in enumerate(zip(outs_m, outs_t)):
        if not isinstance(om, md.Tensor):
            return f"output {k} is a {type(om).__name__}, not a Tensor"
        want = _torch_array(ot)
        got = np.asarray(om.array.astype(np.float32) if om.dtype == md.bfloat16 else om.array)
        tdt = str(ot.dtype).replace("torch.", "")
        if str(om.dtype) != tdt:
            return f"output {k}: dtype {om.dtype} vs torch {tdt}"
        msg = compare_arrays(got, want, rtol, atol, f"output {k}")
        if msg:
            return msg
    if not with_grad:
        return ""
    diff_m = [o for o in outs_m if o.requires_grad]
    diff_t = [o for o in outs_t if o.requires_grad]
    if len(diff_m) != len(diff_t):
        return f"{len(diff_m)} differentiable outputs vs torch's {len(diff_t)}"
    if not diff_t:
        return ""
    with np.errstate(all="ignore"):
        try:
            sum((o.sum() for o in diff_t[1:]), diff_t[0].sum()).backward()
        except RuntimeError as e:
            return "" if "not implemented" in str(e) else f"torch backward fails: {e}"
        try:
            sum((o.sum() for o in diff_m[1:]), diff_m[0].sum()).backward()
        except Exception as e:  # noqa: BLE001
            return f"mathdl backward raises {type(e).__name__}: {str(e)[:120]}"
    for i, (a, b) in enumerate(zip(xm, xt)):
        if not (hasattr(b, "requires_grad") and b.requires_grad):
            continue
        gt = _torch_array(b.grad)
        gm = None if a.grad is None else np.asarray(a.grad.array)
        if gt is None and gm is None:
            continue
        gt = np.zeros(a.shape) if gt is None else gt
        gm = np.zeros(a.shape) if gm is None else gm
        if a.grad is not None and a.grad.dtype != a.dtype:
            return f"gradient {i}: dtype {a.grad.dtype} vs input {a.dtype}"
        msg = compare_arrays(gm, gt, rtol * 10, atol * 10, f"gradient of input {i}")
        if msg:
            return msg
    return ""
