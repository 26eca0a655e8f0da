"""The bench's outputs: JSON (the contract), CSV (one row per image and method) and a
self-contained HTML report whose plots are inline base64 PNGs (Matplotlib object API on the
Agg canvas, no pyplot: safe in threads and in the dashboard).
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...fsio import atomic_write_text
from .runner import METRICS, RATES, BenchRun

CSV_FIELDS = ("image", "name", "sha256", "label", "target", "p_fake", "method", "deletion_auc", "insertion_auc",
              "deletion_auc_logit", "insertion_auc_logit", "road_morf", "road_lerf", "road_morf_logit",
              "road_lerf_logit", "beats_random", "beats_random_prob", "stability", "sanity_pass",
              "seconds_per_image", "model_evals")
TABLE_METRICS = ("beats_random", "deletion_auc_logit", "insertion_auc_logit", "deletion_auc", "insertion_auc",
                 "road_morf", "road_lerf", "sanity_pass", "stability", "seconds_per_image")


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def distributions_png(rows: Sequence[Mapping[str, Any]], methods: Sequence[str]) -> bytes:
    """Box plots of the four AUCs per method (one panel per AUC)."""
    keys = ("deletion_auc_logit", "insertion_auc_logit", "deletion_auc", "insertion_auc")
    fig = _figure(12, 2.2 + 0.25 * len(methods))
    axes = fig.subplots(1, len(keys), sharey=True)
    for ax, key in zip(axes, keys, strict=True):
        data = [[r[key] for r in rows if r["method"] == m and r.get(key) is not None] for m in methods]
        ax.boxplot(data, vert=False, tick_labels=list(methods), showfliers=False)
        ax.set_title(f"{key}\n({'higher' if METRICS[key] else 'lower'} is better)", fontsize=9)
        ax.tick_params(labelsize=8)
    return _png(fig)


def rates_png(result: Mapping[str, Any], key: str = "beats_random") -> bytes:
    """A rate per method with its Wilson interval (horizontal error bars)."""
    methods = [m for m in result["methods"] if result["methods"][m][key]["rate"] is not None]
    fig = _figure(6.5, 1.0 + 0.32 * max(1, len(methods)))
    ax = fig.add_subplot()
    y = np.arange(len(methods))
    r = np.array([result["methods"][m][key]["rate"] for m in methods])
    lo = np.array([result["methods"][m][key]["ci95"][0] for m in methods])
    hi = np.array([result["methods"][m][key]["ci95"][1] for m in methods])
    ax.errorbar(r, y, xerr=np.clip([r - lo, hi - r], 0.0, None), fmt="o", capsize=3)
    ax.set_yticks(y, methods, fontsize=8)
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_xlabel(f"{key} rate (95% Wilson interval)", fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def agreement_png(result: Mapping[str, Any], kind: str = "spearman") -> bytes:
    """Heatmap of the mean pairwise agreement (Spearman or top-k IoU) between methods."""
    names = list(result["methods"])
    agree = result["agreement"][kind]
    mat = np.full((len(names), len(names)), np.nan)
    for i, a in enumerate(names):
        mat[i, i] = 1.0
        for j, b in enumerate(names):
            v = agree.get(a, {}).get(b)
            if v and v.get("mean") is not None:
                mat[i, j] = v["mean"]
    fig = _figure(1.5 + 0.55 * len(names), 1.0 + 0.5 * len(names))
    ax = fig.add_subplot()
    im = ax.imshow(mat, cmap="RdBu_r", vmin=-1 if kind == "spearman" else 0, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    for i in range(len(names)):
        for j in range(len(names)):
            if np.isfinite(mat[i, j]):
                ax.text(j, i, f"{mat[i, j]:.2f}", ha="center", va="center", fontsize=7)
    fig.colorbar(im, ax=ax, shrink=0.8, label=f"mean {kind}")
    return _png(fig)


def image_score(row: Mapping[str, Any]) -> float:
    """Per-image faithfulness used to pick best/worst pictures: log-odds insertion - deletion."""
    return float(row["insertion_auc_logit"]) - float(row["deletion_auc_logit"])


def best_worst_png(run: BenchRun, method: str, signed: bool, k: int = 3) -> bytes:
    """The ``k`` best and worst images for ``method`` (by :func:`image_score`): image and map."""
    from ...explain.visual import map_picture

    rows = sorted((r for r in run.rows if r["method"] == method), key=image_score, reverse=True)
    picks = [("best", r) for r in rows[:k]] + [("worst", r) for r in rows[::-1][:k] if r not in rows[:k]]
    fig = _figure(1.3 * max(1, len(picks)), 3.0)
    axes = np.atleast_2d(fig.subplots(2, max(1, len(picks)), squeeze=False))
    for col, (tag, r) in enumerate(picks):
        axes[0, col].imshow(run.samples[r["image"]].array, interpolation="nearest")
        axes[1, col].imshow(map_picture(run.maps[r["image"], method], signed), interpolation="nearest")
        axes[0, col].set_title(f"{tag} #{r['image']}\n{r['target']} {image_score(r):+.2f}", fontsize=7)
        for ax in axes[:, col]:
            ax.set_axis_off()
    for ax in axes.ravel()[2 * len(picks):]:
        ax.set_axis_off()
    return _png(fig)


def fmt_entry(entry: Mapping[str, Any] | None, digits: int = 3) -> str:
    """'0.812 [0.790, 0.834]' for a mean or a rate with its interval; '-' when missing."""
    if not entry:
        return "-"
    value = entry.get("rate", entry.get("mean"))
    if value is None:
        return "deterministic" if "note" in entry else "-"
    ci = entry.get("ci95")
    text = f"{value:.{digits}f}"
    return f"{text} [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]" if ci else text


def leaderboard_rows(result: Mapping[str, Any], metrics: Sequence[str] = TABLE_METRICS) -> list[dict[str, str]]:
    """One row per method, best first: ``{"method", METRIC: "value [lo, hi] (tie group)"}``."""
    groups = result.get("tie_groups", {})
    rank = {k: {m: i + 1 for i, g in enumerate(gs) for m in g} for k, gs in groups.items()}
    rows = []
    for row in result.get("leaderboard") or [{"method": m} for m in result["methods"]]:
        m = row["method"]
        cells = {"method": m}
        for k in metrics:
            cell, g = fmt_entry(result["methods"][m].get(k)), rank.get(k, {}).get(m)
            cells[k] = f"{cell} ({g})" if g else cell
        rows.append(cells)
    return rows


def markdown_table(result: Mapping[str, Any], metrics: Sequence[str] = TABLE_METRICS) -> str:
    """The leaderboard as a Markdown table (means/rates with 95% intervals, tie-group ranks)."""
    head = "| method | " + " | ".join(metrics) + " |\n|---|" + "---:|" * len(metrics) + "\n"
    lines = ["| " + " | ".join(row.values()) + " |" for row in leaderboard_rows(result, metrics)]
    return head + "\n".join(lines) + "\n"


def tie_group_lines(result: Mapping[str, Any]) -> list[str]:
    """'metric: {a, b} > {c} > ...' per metric (best group first)."""
    out = []
    for k, gs in result.get("tie_groups", {}).items():
        out.append(f"{k}: " + " > ".join("{" + ", ".join(g) + "}" for g in gs))
    return out


def html_report(result: Mapping[str, Any], run: BenchRun | None = None) -> str:
    """One self-contained HTML page: settings, leaderboard, tie groups, plots, pairwise tests."""
    def img(data: bytes, alt: str) -> str:
        return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'

    e = html.escape
    methods = list(result["methods"])
    parts = [f"<h1>Explanation methods compared: {result['n_images']} images, seed {result['seed']}</h1>",
             f"<p>Model {e(str(result['model'].get('name')))} ({e(str(result['model'].get('checkpoint')))}, "
             f"sha256 {e(str(result['model'].get('sha256'))[:16])}…). Target: {e(result['target'])}. "
             f"Verdict space: {e(result['verdict_space'])}. Intervals: {e(json.dumps(result['intervals']))}.</p>"]
    cols = list(TABLE_METRICS)
    rows = []
    for row in result["leaderboard"]:
        m = row["method"]
        cells = "".join(f"<td>{e(fmt_entry(result['methods'][m].get(k)))}"
                        f"{' <small>(group ' + str(row['ranks'][k]) + ')</small>' if row['ranks'].get(k) else ''}</td>"
                        for k in cols)
        rows.append(f"<tr><th>{e(m)}</th>{cells}</tr>")
    parts.append("<h2>Leaderboard (mean or rate [95% interval], tie group)</h2><table><tr><th>method</th>"
                 + "".join(f"<th>{e(k)}</th>" for k in cols) + "</tr>" + "".join(rows) + "</table>")
    parts.append("<h2>Tie groups (Wilcoxon signed-rank, Holm-corrected per metric)</h2><ul>"
                 + "".join(f"<li>{e(line)}</li>" for line in tie_group_lines(result)) + "</ul>")
    parts.append("<h2>Beats random</h2>" + img(rates_png(result), "beats-random rates"))
    parts.append("<h2>Sanity (cascading randomisation)</h2>" + img(rates_png(result, "sanity_pass"), "sanity rates"))
    parts.append("<h2>Agreement</h2>" + img(agreement_png(result, "spearman"), "Spearman heatmap")
                 + img(agreement_png(result, "topk_iou"), "top-k IoU heatmap"))
    if run is not None:
        parts.append("<h2>AUC distributions</h2>" + img(distributions_png(run.rows, methods), "AUC distributions"))
        parts.append("<h2>Best and worst images per method</h2>")
        for m in methods:
            parts.append(f"<h3>{e(m)}</h3>" + img(best_worst_png(run, m, bool(result['methods'][m]['signed'])),
                                                  f"best and worst images, {m}"))
    sig = [r for r in result["pairwise"] if r["significant"]]
    parts.append(f"<h2>Pairwise tests ({len(sig)} of {len(result['pairwise'])} significant)</h2><table>"
                 "<tr><th>metric</th><th>a</th><th>b</th><th>n</th><th>mean a-b</th><th>p</th><th>p (Holm)</th>"
                 "<th>better</th></tr>"
                 + "".join(f"<tr><td>{e(r['metric'])}</td><td>{e(r['a'])}</td><td>{e(r['b'])}</td><td>{r['n']}</td>"
                           f"<td>{(r['mean_diff'] or 0):+.4f}</td><td>{r['p']:.3g}</td><td>{r['p_holm']:.3g}</td>"
                           f"<td>{e(r['better'] or 'tie')}</td></tr>" for r in result["pairwise"]) + "</table>")
    style = ("body{font-family:sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse;font-size:12px}"
             "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}th{background:#f4f4f4}img{max-width:100%}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>SynthCheck explain-eval</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>")


def write_csv(rows: Sequence[Mapping[str, Any]], path: Path) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: r.get(k) for k in CSV_FIELDS})
    atomic_write_text(path, buf.getvalue())


def write_outputs(result: dict[str, Any], run: BenchRun, out: Path) -> dict[str, str]:
    """OUT/explain_eval.json, OUT/explain_eval.csv, OUT/explain_eval.html; their paths go into
    ``result["outputs"]`` (and are returned)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "explain_eval.json", "csv": out / "explain_eval.csv", "html": out / "explain_eval.html"}
    result["outputs"] = {k: str(v) for k, v in paths.items()}
    atomic_write_text(paths["json"], json.dumps(result, indent=1, default=float) + "\n")
    write_csv(run.rows, paths["csv"])
    atomic_write_text(paths["html"], html_report(result, run))
    return result["outputs"]


__all__ = ["RATES", "agreement_png", "best_worst_png", "distributions_png", "fmt_entry", "html_report",
           "leaderboard_rows", "markdown_table", "rates_png", "tie_group_lines", "write_outputs"]
