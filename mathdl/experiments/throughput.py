"""ResNet-50 throughput on this CPU, and what the GPU claim needs.

Claim (the article, Table 1): GPU acceleration takes ResNet-50 from 50 to 500 frames per second
(900%, i.e. 10x).

Setup: mathdl's ResNet-50 (ImageNet layout, bottleneck blocks (3, 4, 6, 3), 1,000 classes, ~25.6M
parameters), batch 8 of 3 x 224 x 224 random images (quick: 3 x 64 x 64, which changes the cost per
image, so quick figures are not ResNet-50-at-224 figures).  Inference: ``model.eval()`` under
``no_grad``; training: forward, cross-entropy, backward and an SGD step (momentum 0.9).  images/s =
batch / the seconds of one step, one value per round (the first step is a warm-up and not counted).

Rule: speed-up = GPU images/s / CPU images/s, both for ResNet-50 at 224 x 224; holds if >= 10, holds
only partly if >= 2, does not hold below.  It is *not testable here* unless GPU figures for ResNet-50
are supplied (``--gpu-figures FILE``, JSON: {"resnet50_inference_images_per_s": ...,
"resnet50_training_images_per_s": ..., "device": "..."}): this machine has no GPU.  The lead's H200
figures (mathdl on CuPy vs PyTorch CUDA, float32 training steps) are for ResNet-20, not ResNet-50,
and compare two libraries on one GPU rather than a GPU with a CPU, so they are reported as context
only and do not decide the verdict.

  python -m mathdl.experiments.throughput [--quick] [--seeds 3] [--out DIR] [--gpu-figures FILE]
  MATHDL_GPU_FIGURES=FILE mathdl reproduce gpu_resnet50     (the same file, through the reproduce runner)
"""

from __future__ import annotations

import json
import os
import time

import numpy as np

from . import verdict as V
from .output import pyplot, save_figure, write_json

__all__ = ["LEAD_H200_FIGURES", "RULE", "gpu_verdict", "measure", "run", "main"]

#: measured by the project lead on an NVIDIA H200: milliseconds per float32 training step (context only)
LEAD_H200_FIGURES = {"device": "NVIDIA H200 (one GPU)", "unit": "ms per float32 training step",
                     "mathdl_cupy_vs_torch_cuda": {"MLP": [2.741, 1.406], "ResNet-20": [124.1, 7.2],
                                                   "transformer": [12.5, 4.8]}}


RULE = ("speed-up = GPU / CPU images per second of ResNet-50 at 224 x 224; holds if >= 10, holds only partly if "
        ">= 2, else does not hold; not testable without a ResNet-50 GPU figure")


def gpu_verdict(cpu_images_per_s, gpu_figures, size):
    """The verdict from CPU images/s ({"inference", "training"}) and GPU figures (or None); returns
    (Verdict, {kind: speed-up})."""
    keys = [k for k in ("inference", "training") if gpu_figures and f"resnet50_{k}_images_per_s" in gpu_figures]
    if keys and size == 224:
        speedups = {k: float(gpu_figures[f"resnet50_{k}_images_per_s"]) / cpu_images_per_s[k] for k in keys}
        v = V.at_least(min(speedups.values()), 10, partly=2,
                       what="GPU / CPU speed-up (the smaller of inference and training)")
        return V.Verdict(v.verdict, RULE, v.why + f" on {gpu_figures.get('device', 'the given GPU')}"), speedups
    return V.Verdict(V.NOT_TESTABLE, RULE,
                     "no GPU here and no ResNet-50 GPU figure supplied (--gpu-figures); the lead's H200 figures are "
                     "for ResNet-20 training steps and compare mathdl-on-CuPy with PyTorch on the same GPU (124.1 vs "
                     "7.2 ms), which says how far mathdl's GPU path is from PyTorch's, not how a GPU compares with "
                     "this CPU" + ("" if size == 224 else f"; the CPU figures are for {size} x {size} inputs (quick), "
                                   "not 224")), {}


def _resnet50(size, seed):
    import mathdl as md
    from mathdl.data.registry import DatasetSpec
    from mathdl.models.resnet import build_resnet50

    md.manual_seed(seed)
    spec = DatasetSpec(None, None, (3, size, size), 1000)
    return build_resnet50(spec)


def measure(size=224, batch=8, rounds=3, seed=0, log=print):
    """images/s of inference and of training steps (one value per round after a warm-up)."""
    import mathdl as md
    import mathdl.nn.functional as F
    from mathdl import optim

    model = _resnet50(size, seed)
    rng = np.random.default_rng(seed)
    x = md.tensor(rng.standard_normal((batch, 3, size, size)).astype(np.float32))
    y = md.tensor(rng.integers(0, 1000, batch))
    n_params = int(sum(p.numel() for p in model.parameters()))
    out = {"inference": [], "training": [], "parameters": n_params}
    model.eval()
    with md.no_grad():
        for k in range(rounds + 1):
            t0 = time.perf_counter()
            model(x)
            if k:
                out["inference"].append(batch / (time.perf_counter() - t0))
    model.train()
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    for k in range(rounds + 1):
        t0 = time.perf_counter()
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        if k:
            out["training"].append(batch / (time.perf_counter() - t0))
    log(f"[throughput] ResNet-50 {size}x{size} batch {batch}: inference {np.mean(out['inference']):.2f} images/s, "
        f"training {np.mean(out['training']):.2f} images/s")
    return out


def run(quick=False, seeds=(0, 1, 2), out=None, gpu_figures=None, log=print, size=None, batch=8, rounds=None):
    """CPU throughput (one model per seed); returns the record (setup, measurement, numbers, verdict, figures).
    ``gpu_figures``: a dict or a JSON file path of ResNet-50 GPU images/s measured elsewhere."""
    size = size or (64 if quick else 224)
    rounds = rounds or (2 if quick else 3)
    seeds = tuple(int(s) for s in seeds)[:1 if quick else 3]
    per = [measure(size, batch, rounds, s, log) for s in seeds]
    cpu = {k: V.spread([v for p in per for v in p[k]]) for k in ("inference", "training")}
    if isinstance(gpu_figures, str):
        with open(gpu_figures) as f:
            gpu_figures = json.load(f)
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    numbers = {"cpu_images_per_s": cpu, "parameters": per[0]["parameters"], "size": size, "batch": batch,
               "threads": threads, "gpu_figures": gpu_figures, "lead_h200_context": LEAD_H200_FIGURES}
    verdict, speedups = gpu_verdict({k: cpu[k]["mean"] for k in cpu}, gpu_figures, size)
    if speedups:
        numbers["speedup"] = speedups
    figures = []
    if out:
        os.makedirs(out, exist_ok=True)
        figures.append(_plot(cpu, size, os.path.join(out, "throughput.png")))
        write_json(out, "throughput.json", numbers)
    setup = (f"mathdl ResNet-50 ({per[0]['parameters']:,} parameters), batch {batch} of 3x{size}x{size} random "
             f"images, float32 on this CPU (OMP_NUM_THREADS={threads}; shared machine, disturbed by other jobs); "
             f"{rounds} timed rounds after a warm-up per seed, seeds {list(seeds)}")
    measurement = (f"CPU inference {V.fmt_spread(cpu['inference'], unit=' images/s')}, training "
                   f"{V.fmt_spread(cpu['training'], unit=' images/s')}"
                   + (f"; GPU/CPU speed-up {numbers['speedup']}" if "speedup" in numbers else
                      "; no ResNet-50 GPU figure (context: ResNet-20 training step on an H200, mathdl/CuPy 124.1 ms "
                      "vs PyTorch 7.2 ms)"))
    return {"setup": setup, "measurement": measurement, "numbers": numbers, "verdict": verdict.as_dict(),
            "figures": figures}


def _plot(cpu, size, path):
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(5, 3.4))
    keys = ("inference", "training")
    ax.bar(keys, [cpu[k]["mean"] for k in keys], yerr=[cpu[k]["std"] for k in keys], capsize=4)
    ax.axhline(50, color="grey", ls="--", lw=1, label="article's baseline (50 frames/s)")
    ax.set_ylabel("images / s")
    ax.set_title(f"ResNet-50 on this CPU, {size}x{size}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path, dpi=90)


def main(argv=None):
    from .reproduce import experiment_main

    return experiment_main(run, __doc__.splitlines()[0], argv, seeds=3, options=[
        ("--gpu-figures", {"help": "JSON with resnet50_inference_images_per_s / resnet50_training_images_per_s"})])


if __name__ == "__main__":  # pragma: no cover
    main()
