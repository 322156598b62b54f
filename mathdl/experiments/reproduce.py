"""``mathdl reproduce``: every quantitative claim of the article, measured here, with a verdict.

Each claim (:mod:`mathdl.experiments.claims`) runs its experiment module and returns a record::

    {"setup": "what was run: data, model, budget, seeds",
     "measurement": "the numbers, with their spread",
     "numbers": {...},                      # everything measured, JSON
     "verdict": {"verdict", "rule", "why"}, # from mathdl.experiments.verdict, computed, never typed
     "figures": ["file.png", ...]}          # inside the claim's folder

The runner writes ``OUT/claims/<id>/result.json`` per claim (so a rerun with the same options
skips finished claims: resumable, and comparable across runs), then ``OUT/report.md`` and a
self-contained ``OUT/report.html`` (figures embedded).  ``--quick`` runs every experiment in its
small configuration (fewer seeds and steps; the report says so).

    mathdl reproduce [CLAIM ...] [--quick] [--seeds N] [--out DIR] [--list] [--force]
"""

from __future__ import annotations

import base64
import html
import json
import os
import sys
import time
import traceback

__all__ = ["run_claims", "write_report", "add_parser", "run", "experiment_main"]

RESULT = "result.json"


def _claims():
    from .claims import CLAIMS

    return CLAIMS


def _seeds(n, quick):
    if n is None:
        n = 2 if quick else 5
    if not (isinstance(n, int) and n >= 1):
        raise ValueError(f"--seeds must be a positive integer, got {n!r}")
    return tuple(range(n))


def run_claims(names=None, quick=False, seeds=None, out="reproduce", force=False, log=print, progress=True):
    """Run the chosen claims (all by default); returns {id: record}.  Finished claims whose saved
    options equal these are loaded instead of rerun (unless ``force``)."""
    claims = _claims()
    names = list(names) if names else list(claims)
    unknown = [n for n in names if n not in claims]
    if unknown:
        raise ValueError(f"unknown claim(s) {', '.join(unknown)}; 'mathdl reproduce --list' lists them")
    seed_list = _seeds(seeds, quick)
    options = {"quick": bool(quick), "seeds": list(seed_list)}
    os.makedirs(out, exist_ok=True)
    records = {}
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(names, desc="claims", unit="claim", file=sys.stderr, dynamic_ncols=True)
    for name in (bar if bar is not None else names):
        if bar is not None:
            bar.set_postfix_str(name)
        folder = os.path.join(out, "claims", name)
        path = os.path.join(folder, RESULT)
        if not force and os.path.exists(path):
            with open(path) as f:
                saved = json.load(f)
            if saved.get("options") == options:
                records[name] = saved
                log(f"{name}: kept the finished result in {path} ({saved.get('verdict', {}).get('verdict')})")
                continue
        os.makedirs(folder, exist_ok=True)
        t0 = time.perf_counter()
        try:
            rec = claims[name].run(quick=quick, seeds=seed_list, out=folder)
            rec.setdefault("figures", [])
            rec["error"] = None
        except Exception as e:  # a failed experiment is reported as such, never as a verdict
            rec = {"setup": "", "measurement": "", "numbers": {}, "figures": [],
                   "verdict": {"verdict": "failed to run", "rule": "", "why": f"{type(e).__name__}: {e}"},
                   "error": traceback.format_exc(limit=6)}
        rec["id"] = name
        rec["statement"] = claims[name].statement
        rec["source"] = claims[name].source
        rec["options"] = options
        rec["seconds"] = round(time.perf_counter() - t0, 2)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(rec, f, indent=2, default=_jsonable)
        os.replace(tmp, path)
        records[name] = rec
        log(f"{name}: {rec['verdict']['verdict']} ({rec['seconds']:.1f} s)")
    if bar is not None:
        bar.close()
    return records


def _jsonable(x):
    try:
        import numpy as np

        if isinstance(x, np.generic):
            return x.item()
        if isinstance(x, np.ndarray):
            return x.tolist()
    except ImportError:  # pragma: no cover
        pass
    return str(x)


# ---------------------------------------------------------------------------------- report
def _verdict_rules():
    from . import verdict as V

    return [
        (V.HOLDS, "the measurement reaches what the claim states (the claim's own rule below gives the number)"),
        (V.PARTLY, "the measurement goes the claimed way but falls short of the stated size"),
        (V.DOES_NOT_HOLD, "the measurement does not go the claimed way, or a compared difference is not "
                          "significant (Welch's t-test, p >= 0.05)"),
        (V.NOT_TESTABLE, "what the claim needs (data, hardware, a field outside deep learning) is missing here; "
                         "the reason is given"),
    ]


def write_report(records, out, quick=False):
    """Write ``report.md`` and a self-contained ``report.html``; returns their paths."""
    order = list(records)
    counts = {}
    for r in records.values():
        counts[r["verdict"]["verdict"]] = counts.get(r["verdict"]["verdict"], 0) + 1
    md = ["# mathdl reproduce: the article's claims, measured", ""]
    md.append("Article: *Mathematical Foundations of Deep Learning: An In-Depth Exploration* (Karnam, IJIRSET 13(7), "
              "2024). Every verdict below is computed from the numbers by the rule stated with it.")
    md.append("")
    if quick:
        md.append("**Quick run**: every experiment ran in its small configuration (fewer seeds and steps; some "
                  "are smoke-test budgets whose verdicts say little). Run `mathdl reproduce` without `--quick` "
                  "for the full measurements.")
        md.append("")
    md.append("Verdicts: " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    md.append("")
    md.append("| claim | as stated | verdict |")
    md.append("| --- | --- | --- |")
    for name in order:
        r = records[name]
        md.append(f"| [{name}](#{name}) | {_one_line(r['statement'])} | **{r['verdict']['verdict']}** |")
    md.append("")
    md.append("## How verdicts are decided")
    md.append("")
    for v, text in _verdict_rules():
        md.append(f"- **{v}**: {text}.")
    md.append("- **failed to run**: the experiment raised an error (shown); no verdict.")
    md.append("")
    for name in order:
        r = records[name]
        md.append(f'<a id="{name}"></a>')
        md.append(f"## {name}")
        md.append("")
        md.append(f"> {r['statement']}")
        md.append(f"> — {r.get('source', '')}")
        md.append("")
        md.append(f"**What was run.** {r.get('setup', '')}")
        md.append("")
        md.append(f"**Measurement.** {r.get('measurement', '')}")
        md.append("")
        v = r["verdict"]
        md.append(f"**Verdict: {v['verdict']}.** {v.get('why', '')}")
        if v.get("rule"):
            md.append(f"Rule: {v['rule']}.")
        md.append("")
        for fig in r.get("figures", []):
            md.append(f"![{name}](claims/{name}/{fig})")
            md.append("")
        if r.get("error"):
            md.append("```")
            md.append(r["error"].strip())
            md.append("```")
            md.append("")
        md.append(f"<sub>{r.get('seconds', 0):.1f} s; numbers in claims/{name}/{RESULT}</sub>")
        md.append("")
    md_path = os.path.join(out, "report.md")
    with open(md_path, "w") as f:
        f.write("\n".join(md) + "\n")
    html_path = os.path.join(out, "report.html")
    with open(html_path, "w") as f:
        f.write(_html(md, out))
    return md_path, html_path


def _one_line(text, limit=140):
    t = " ".join(str(text).split())
    return t if len(t) <= limit else t[: limit - 1] + "…"


def _html(md_lines, out):
    """A small Markdown-to-HTML rendering of the report, with figures embedded as data URIs."""
    body, in_table, in_code = [], False, False
    for line in md_lines:
        if line.startswith("```"):
            body.append("</pre>" if in_code else "<pre>")
            in_code = not in_code
            continue
        if in_code:
            body.append(html.escape(line))
            continue
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if all(set(c) <= {"-", " "} for c in cells):
                continue
            if not in_table:
                body.append("<table>")
                in_table = True
                body.append("<tr>" + "".join(f"<th>{_inline(c)}</th>" for c in cells) + "</tr>")
            else:
                body.append("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in cells) + "</tr>")
            continue
        if in_table:
            body.append("</table>")
            in_table = False
        if line.startswith("!["):
            src = line[line.index("(") + 1: line.rindex(")")]
            body.append(f'<p><img alt="figure" style="max-width:100%" src="{_data_uri(os.path.join(out, src))}"></p>')
        elif line.startswith("## "):
            body.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("# "):
            body.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("> "):
            body.append(f"<blockquote>{html.escape(line[2:])}</blockquote>")
        elif line.startswith("- "):
            body.append(f"<li>{_inline(line[2:])}</li>")
        elif line.startswith("<a id=") or line.startswith("<sub>"):
            body.append(line)
        elif line:
            body.append(f"<p>{_inline(line)}</p>")
    if in_table:
        body.append("</table>")
    style = ("body{font-family:sans-serif;max-width:980px;margin:2em auto;line-height:1.45}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}"
             "blockquote{color:#444;border-left:3px solid #bbb;margin:0;padding-left:1em}"
             "pre{background:#f6f6f6;padding:8px;overflow:auto}")
    return ("<!doctype html><html><head><meta charset='utf-8'><title>mathdl reproduce</title>"
            f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def _inline(text):
    import re

    t = html.escape(text)
    t = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", t)
    t = re.sub(r"\*(.+?)\*", r"<i>\1</i>", t)
    t = re.sub(r"`(.+?)`", r"<code>\1</code>", t)
    t = re.sub(r"\[(.+?)\]\((#[^)]+)\)", r'<a href="\2">\1</a>', t)
    return t


def _data_uri(path):
    try:
        with open(path, "rb") as f:
            data = base64.b64encode(f.read()).decode("ascii")
    except OSError:
        return ""
    return f"data:image/png;base64,{data}"


# ---------------------------------------------------------------------------------- CLI
def experiment_main(run_fn, description, argv=None, seeds=5, options=()):
    """The command line an experiment module shares (``python -m mathdl.experiments.<name>``):
    ``--quick``, ``--seeds N`` (seeds 0..N-1), ``--out DIR`` and the module's own ``options``
    ((flag, argparse keywords) pairs, passed on to ``run_fn`` by name); prints each measurement and
    verdict.  ``run_fn`` returns one record, or a dict of records (several claims)."""
    import argparse

    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="the small configuration (seconds to minutes)")
    p.add_argument("--seeds", type=int, default=seeds, help=f"number of seeds (default {seeds})")
    p.add_argument("--out", help="folder for the figures and numbers")
    for flag, kwargs in options:
        p.add_argument(flag, **kwargs)
    a = vars(p.parse_args(argv))
    quick, n, out = a.pop("quick"), a.pop("seeds"), a.pop("out")
    res = run_fn(quick=quick, seeds=tuple(range(n)), out=out, **a)
    for name, rec in ([("", res)] if "verdict" in res else list(res.items())):
        print(f"{name + ': ' if name else ''}{rec['measurement']}")
        print(f"verdict: {rec['verdict']['verdict']} — {rec['verdict']['why']}")
    return 0


def add_parser(subparsers):
    p = subparsers.add_parser(
        "reproduce", help="measure the article's quantitative claims and write a report with verdicts",
        description="Run one experiment per quantitative claim of the article (all of them, or the ones named), "
                    "then write report.md and a self-contained report.html into --out. Finished claims are kept "
                    "(resumable); --force reruns them.")
    p.add_argument("claims", nargs="*", metavar="CLAIM", help="claims to run (default: all; see --list)")
    p.add_argument("--list", action="store_true", help="list the claims and exit")
    p.add_argument("--quick", action="store_true", help="small configurations (minutes, not hours)")
    p.add_argument("--seeds", type=int, help="number of seeds (default 5; 2 with --quick)")
    p.add_argument("--out", default="reproduce", help="output folder (default ./reproduce)")
    p.add_argument("--force", action="store_true", help="rerun claims that have a saved result")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--gpu-figures", metavar="JSON",
                   help="ResNet-50 images/s measured on a GPU elsewhere, for the gpu_resnet50 claim")


def run(args):
    claims = _claims()
    if args.list:
        width = max(len(n) for n in claims)
        for name, c in claims.items():
            print(f"{name:<{width}}  {_one_line(c.statement, 100)}")
        return 0
    if args.gpu_figures:
        if not os.path.exists(args.gpu_figures):
            raise FileNotFoundError(f"--gpu-figures: no file at {args.gpu_figures!r}")
        os.environ["MATHDL_GPU_FIGURES"] = args.gpu_figures
    records = run_claims(args.claims, quick=args.quick, seeds=args.seeds, out=args.out, force=args.force,
                         progress=not args.no_progress)
    md, htm = write_report(records, args.out, quick=args.quick)
    failed = [n for n, r in records.items() if r.get("error")]
    print(f"wrote {md} and {htm}" + (f"; {len(failed)} claim(s) failed to run: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0
