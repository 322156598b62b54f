"""Tucker and CP decompositions of tensors, and of convolution kernels into cheaper sequences.

Notation: T x_m M is the mode-m product (M applied to axis m of T); unfold(T, m) puts axis m
first and flattens the rest (C order).

Tucker (HOSVD initialized, HOOI refined; De Lathauwer et al. 2000): T ~ G x_1 U_1 ... x_d U_d with
orthonormal U_m (n_m, r_m) over the chosen modes.  HOSVD takes U_m = the leading r_m left singular
vectors of unfold(T, m); HOOI then repeats, for each mode m, U_m = the leading left singular
vectors of unfold(T x_{k != m} U_k^T, m), which never increases ||T - G x U|| (each step solves its
sub-problem exactly).  G = T x_m U_m^T.

CP by alternating least squares: T ~ sum_r w_r a_r^(1) o ... o a_r^(d).  Each step solves for one
factor exactly:  A_n = unfold(T, n) KR_{k != n}(A_k) (hadamard_{k != n} A_k^T A_k)^+, with KR the
column-wise Khatri-Rao product in the unfolding's order; columns are then normalized into w.

Convolutions with kernel K (out, in, kh, kw):
- Tucker-2 over (out, in) (Kim et al. 2016): K ~ G x_0 U_out x_1 U_in, G (r_out, r_in, kh, kw) gives
  1x1 conv in -> r_in (weight U_in^T), kh x kw conv r_in -> r_out (weight G, the original stride,
  padding, dilation), 1x1 conv r_out -> out (weight U_out, the bias).
- CP (Lebedev et al. 2015): K ~ sum_r w_r a_r o b_r o c_r o d_r gives 1x1 conv in -> R (b), depthwise
  kh x 1 conv (c, vertical stride/padding), depthwise 1 x kw conv (d, horizontal), 1x1 conv R -> out
  (w a, the bias).
- Ranks by energy: r_m is the smallest rank keeping that fraction of sum s^2 of unfold(K, m)
  (Kim et al. select ranks by variational Bayesian matrix factorization; the energy rule is the
  deterministic stand-in used here).
Parameters: out in kh kw -> in r_in + r_in r_out kh kw + r_out out (Tucker-2), R (in + kh + kw + out) (CP).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np

from .. import nn

__all__ = ["unfold", "mode_product", "hosvd", "tucker", "cp_als", "cp_to_full", "energy_rank", "tucker_conv2d",
           "cp_conv2d", "tucker_compress", "ConvReport"]


def _svd(a):
    import mathdl as md
    import mathdl.linalg as mla

    U, S, Vh = mla.svd(md.tensor(np.ascontiguousarray(a)), full_matrices=False)
    return U.numpy(), S.numpy()


def unfold(T, mode):
    """The mode-``mode`` unfolding (n_mode, prod of the other sizes)."""
    return np.moveaxis(T, mode, 0).reshape(T.shape[mode], -1)


def mode_product(T, M, mode):
    """T x_mode M: contracts axis ``mode`` of T (size n) with the columns of M (m, n)."""
    return np.moveaxis(np.tensordot(M, T, axes=(1, mode)), 0, mode)


def energy_rank(T, mode, energy):
    """The smallest r whose leading singular values of unfold(T, mode) keep ``energy`` of sum s^2."""
    if not 0 < energy <= 1:
        raise ValueError(f"energy must be in (0, 1], got {energy}")
    s = _svd(unfold(T, mode))[1]
    cum = np.cumsum(s ** 2) / max(float((s ** 2).sum()), 1e-300)
    return int(min(len(s), np.searchsorted(cum, energy - 1e-12) + 1))


def _leading(T, mode, r):
    return _svd(unfold(T, mode))[0][:, :r]


def hosvd(T, ranks, modes=None):
    """(core, factors): the truncated higher-order SVD over ``modes`` (default all)."""
    T = np.asarray(T)
    modes = list(range(T.ndim)) if modes is None else list(modes)
    if len(ranks) != len(modes):
        raise ValueError(f"tucker: {len(ranks)} ranks for {len(modes)} modes")
    for m, r in zip(modes, ranks):
        if not 1 <= r <= T.shape[m]:
            raise ValueError(f"tucker: rank {r} for mode {m} must be in [1, {T.shape[m]}]")
    factors = [_leading(T, m, r) for m, r in zip(modes, ranks)]
    return _core(T, factors, modes), factors


def _core(T, factors, modes):
    G = T
    for U, m in zip(factors, modes):
        G = mode_product(G, U.T, m)
    return G


def tucker_to_full(core, factors, modes):
    T = core
    for U, m in zip(factors, modes):
        T = mode_product(T, U, m)
    return T


def tucker(T, ranks, modes=None, n_iter=10, tol=1e-10, init="hosvd"):
    """(core, factors): Tucker decomposition by HOOI from the HOSVD (``n_iter`` = 0: HOSVD only)."""
    T = np.asarray(T)
    modes = list(range(T.ndim)) if modes is None else list(modes)
    if init != "hosvd":
        raise ValueError(f"tucker: init must be 'hosvd', got {init!r}")
    core, factors = hosvd(T, ranks, modes)
    norm_T = float(np.linalg.norm(T))
    prev = np.inf
    for _ in range(int(n_iter)):
        for i, (m, r) in enumerate(zip(modes, ranks)):
            others = [(U, k) for j, (U, k) in enumerate(zip(factors, modes)) if j != i]
            Y = T
            for U, k in others:
                Y = mode_product(Y, U.T, k)
            factors[i] = _leading(Y, m, r)
        core = _core(T, factors, modes)
        err = np.sqrt(max(norm_T ** 2 - float(np.linalg.norm(core)) ** 2, 0.0))   # orthonormal factors
        if abs(prev - err) <= tol * max(norm_T, 1e-300):
            break
        prev = err
    return core, factors


def _khatri_rao(mats):
    """Column-wise Kronecker product: row index (i_1, ..., i_k) in C order."""
    out = mats[0]
    for M in mats[1:]:
        out = (out[:, None, :] * M[None, :, :]).reshape(-1, M.shape[1])
    return out


def cp_to_full(weights, factors):
    out = np.einsum("r,ir->ir", weights, factors[0])
    for F in factors[1:]:
        out = (out[..., None, :] * F).reshape(*out.shape[:-1], F.shape[0], F.shape[1])
    return out.sum(-1)


def cp_als(T, rank, n_iter=200, tol=1e-9, seed=0):
    """(weights, factors): the rank-``rank`` CP decomposition by ALS (see the module docstring);
    factors start from the leading singular vectors of the unfoldings (random where rank exceeds
    a mode's size)."""
    import mathdl as md
    import mathdl.linalg as mla

    T = np.asarray(T, dtype=np.float64)
    if rank < 1:
        raise ValueError(f"cp_als: rank must be >= 1, got {rank}")
    rng = np.random.default_rng(seed)
    d = T.ndim
    factors = []
    for m in range(d):
        U = _leading(T, m, min(rank, T.shape[m]))
        if U.shape[1] < rank:
            U = np.concatenate([U, rng.standard_normal((T.shape[m], rank - U.shape[1]))], 1)
        factors.append(U)
    weights = np.ones(rank)
    norm_T = float(np.linalg.norm(T))
    prev = np.inf
    for _ in range(int(n_iter)):
        for n in range(d):
            others = [factors[k] for k in range(d) if k != n]
            V = np.ones((rank, rank))
            for A in others:
                V *= A.T @ A
            M = unfold(T, n) @ _khatri_rao(others)
            A = mla.pinv(md.tensor(V)).numpy()
            factors[n] = M @ A
            weights = np.linalg.norm(factors[n], axis=0)
            weights[weights == 0] = 1.0
            factors[n] = factors[n] / weights
        err = np.linalg.norm(T - cp_to_full(weights, factors))
        if abs(prev - err) <= tol * max(norm_T, 1e-300):
            break
        prev = err
    return weights, factors


# --------------------------------------------------------------------------- convolutions
def _kernel(conv):
    if not isinstance(conv, nn.Conv2d):
        raise TypeError(f"expected an nn.Conv2d, got {type(conv).__name__}")
    if conv.groups != 1:
        raise ValueError(f"decomposing a grouped convolution (groups={conv.groups}) is not supported")
    if isinstance(conv.padding, str):
        raise ValueError(f"padding={conv.padding!r}: give the padding as numbers to decompose the convolution")
    return conv.weight.detach().numpy().astype(np.float64)


def _set_weight(layer, w):
    import mathdl as md

    with md.no_grad():
        layer.weight.copy_(md.tensor(np.ascontiguousarray(w).astype(layer.weight.dtype)))


def tucker_conv2d(conv, ranks=None, energy=None, n_iter=10):
    """Conv2d -> Sequential(1x1 in->r_in, kxk r_in->r_out, 1x1 r_out->out) by Tucker-2 (Kim et al.
    2016); ``ranks`` = (r_out, r_in), or ``energy`` per mode."""
    K = _kernel(conv)
    out_c, in_c, kh, kw = K.shape
    if (ranks is None) == (energy is None):
        raise ValueError("tucker_conv2d: give exactly one of ranks=(r_out, r_in) or energy=")
    if ranks is None:
        ranks = (energy_rank(K, 0, energy), energy_rank(K, 1, energy))
    core, (U_out, U_in) = tucker(K, list(ranks), modes=[0, 1], n_iter=n_iter)
    r_out, r_in = ranks
    dtype = conv.weight.dtype
    first = nn.Conv2d(in_c, r_in, 1, bias=False, dtype=dtype)
    middle = nn.Conv2d(r_in, r_out, (kh, kw), stride=conv.stride, padding=conv.padding, dilation=conv.dilation,
                       bias=False, dtype=dtype)
    last = nn.Conv2d(r_out, out_c, 1, bias=conv.bias is not None, dtype=dtype)
    _set_weight(first, U_in.T[:, :, None, None])
    _set_weight(middle, core)
    _set_weight(last, U_out[:, :, None, None])
    if conv.bias is not None:
        _set_weight_bias(last, conv)
    return nn.Sequential(first, middle, last)


def _set_weight_bias(layer, conv):
    import mathdl as md

    with md.no_grad():
        layer.bias.copy_(conv.bias.detach())


def cp_conv2d(conv, rank, n_iter=200, seed=0):
    """Conv2d -> Sequential(1x1 in->R, depthwise kh x 1, depthwise 1 x kw, 1x1 R->out) by a rank-R CP
    decomposition of the kernel (Lebedev et al. 2015)."""
    K = _kernel(conv)
    out_c, in_c, kh, kw = K.shape
    w, (A, B, C, D) = cp_als(K, int(rank), n_iter=n_iter, seed=seed)
    (sh, sw), (ph, pw), (dh, dw) = conv.stride, conv.padding, conv.dilation
    dtype = conv.weight.dtype
    R = int(rank)
    first = nn.Conv2d(in_c, R, 1, bias=False, dtype=dtype)
    vert = nn.Conv2d(R, R, (kh, 1), stride=(sh, 1), padding=(ph, 0), dilation=(dh, 1), groups=R, bias=False,
                     dtype=dtype)
    horiz = nn.Conv2d(R, R, (1, kw), stride=(1, sw), padding=(0, pw), dilation=(1, dw), groups=R, bias=False,
                      dtype=dtype)
    last = nn.Conv2d(R, out_c, 1, bias=conv.bias is not None, dtype=dtype)
    _set_weight(first, B.T[:, :, None, None])
    _set_weight(vert, C.T[:, None, :, None])
    _set_weight(horiz, D.T[:, None, None, :])
    _set_weight(last, (A * w)[:, :, None, None])
    if conv.bias is not None:
        _set_weight_bias(last, conv)
    return nn.Sequential(first, vert, horiz, last)


@dataclass
class ConvReport:
    name: str
    ranks: tuple
    params_before: int
    params_after: int
    flops_before: int      # multiply-adds x 2 for the probe input
    flops_after: int
    rel_error: float       # ||K - K_approx||_F / ||K||_F
    ms_before: float
    ms_after: float


def _sequence_flops(layers, in_shape):
    """2 x MACs of a chain of Conv2d for one example of shape (C, H, W); returns (flops, out_shape)."""
    C, H, W = in_shape
    total = 0
    for conv in layers:
        kh, kw = conv.kernel_size
        (sh, sw), (ph, pw), (dh, dw) = conv.stride, conv.padding, conv.dilation
        H = (H + 2 * ph - dh * (kh - 1) - 1) // sh + 1
        W = (W + 2 * pw - dw * (kw - 1) - 1) // sw + 1
        total += 2 * conv.out_channels * (conv.in_channels // conv.groups) * kh * kw * H * W
        C = conv.out_channels
    return total, (C, H, W)


def _time_ms(module, x, repeats=5):
    import mathdl as md

    with md.no_grad():
        module(x)
        ts = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            module(x)
            ts.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(ts))


def tucker_compress(model, example_input, method="tucker", energy=None, ranks=None, layers=None, inplace=False,
                    n_iter=10, timing_batch=64):
    """Replace the Conv2d layers (kernel > 1, groups 1) of ``model`` by Tucker-2 (``method='tucker'``,
    ``energy`` or ``ranks=(r_out, r_in)``) or CP (``method='cp'``, ``ranks=R`` or ``energy``: R from the
    Tucker ranks, max(r_out, r_in)) sequences.  ``example_input`` (one batch) gives each layer's input
    size for the FLOP count and the timing.  Returns ``(model, reports)``."""
    import mathdl as md

    if method not in ("tucker", "cp"):
        raise ValueError(f"tucker_compress: method must be 'tucker' or 'cp', got {method!r}")
    model = model if inplace else copy.deepcopy(model)
    convs = {n: m for n, m in model.named_modules() if isinstance(m, nn.Conv2d) and m.groups == 1
             and max(m.kernel_size) > 1 and not isinstance(m.padding, str)}
    if layers is not None:
        missing = [n for n in layers if n not in convs]
        if missing:
            raise ValueError(f"tucker_compress: no decomposable Conv2d named {missing}; candidates: {sorted(convs)}")
        convs = {n: convs[n] for n in layers}
    shapes = {}
    handles = [m.register_forward_hook(lambda mod, inp, out, n=n: shapes.__setitem__(n, tuple(inp[0].shape)))
               for n, m in convs.items()]
    was = model.training
    model.eval()
    with md.no_grad():
        model(example_input)
    model.train(was)
    for h in handles:
        h.remove()
    reports = []
    for name, conv in convs.items():
        K = _kernel(conv)
        if method == "tucker":
            new = tucker_conv2d(conv, ranks=ranks, energy=energy, n_iter=n_iter)
            rk = (new[1].out_channels, new[1].in_channels)
        else:
            R = ranks if ranks is not None else max(energy_rank(K, 0, energy), energy_rank(K, 1, energy))
            new = cp_conv2d(conv, R)
            rk = (R,)
        approx = _approx_kernel(new, method, K.shape)
        in_shape = shapes[name][1:]
        f0, _ = _sequence_flops([conv], in_shape)
        f1, _ = _sequence_flops(list(new), in_shape)
        x = md.tensor(np.random.default_rng(0).standard_normal((timing_batch,) + in_shape).astype(conv.weight.dtype))
        reports.append(ConvReport(name, rk, sum(p.numel() for p in conv.parameters()),
                                  sum(p.numel() for p in new.parameters()), f0, f1,
                                  float(np.linalg.norm(K - approx) / max(np.linalg.norm(K), 1e-300)),
                                  _time_ms(conv, x), _time_ms(new, x)))
        parent, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent) if parent else model, child, new)
    return model, reports


def _approx_kernel(seq, method, shape):
    """The kernel the sequence computes (the composition of its linear maps), for the error report."""
    w = [np.asarray(c.weight.detach().numpy(), dtype=np.float64) for c in seq]
    if method == "tucker":
        first, core, last = w[0][:, :, 0, 0], w[1], w[2][:, :, 0, 0]
        return mode_product(mode_product(core, last, 0), first.T, 1)
    B, C, D, A = w[0][:, :, 0, 0].T, w[1][:, 0, :, 0].T, w[2][:, 0, 0, :].T, w[3][:, :, 0, 0]
    return np.einsum("or,ir,hr,wr->oihw", A, B, C, D)
