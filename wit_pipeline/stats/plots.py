"""PNG plots of a `collect` stats dict, drawn with matplotlib's Agg backend (no display needed).

`render(stats)` returns {file name: PNG bytes}; `write(stats, folder)` writes them. A plot whose data is absent
(no query_counts.parquet in a plain download, no successful image) is left out.
"""
from __future__ import annotations

import io
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after the backend is chosen

COLOR_BEFORE = "#9aa5b1"
COLOR_AFTER = "#1f6feb"


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def status_plot(stats: dict) -> bytes | None:
    status = stats.get("status") or {}
    if not status:
        return None
    names = list(status)[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(names) + 1.2))
    colors = ["#2da44e" if n == "success" else "#cf222e" for n in names]
    bars = ax.barh(names, [status[n] for n in names], color=colors)
    ax.bar_label(bars, padding=3)
    ax.set_xscale("log" if max(status.values()) > 100 * max(1, min(status.values())) else "linear")
    ax.set_xlabel("rows")
    ax.set_title("download status")
    return _png(fig)


def _hist_axes(ax, hist: dict, label: str, color: str) -> None:
    w = hist["bin_width"]
    counts = hist["counts"]
    ax.bar([i * w for i in range(len(counts))], counts, width=w, align="edge", color=color, alpha=0.7,
           label=label)


def sizes_plot(stats: dict) -> bytes | None:
    hists = stats.get("histograms") or {}
    pairs = [(("original_width", "width"), "width (px)"), (("original_height", "height"), "height (px)")]
    if not any(hists.get(k) for (a, b), _ in pairs for k in (a, b)):
        return None
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for ax, ((before, after), title) in zip(axes, pairs):
        if hists.get(before):
            _hist_axes(ax, hists[before], "original", COLOR_BEFORE)
        if hists.get(after):
            _hist_axes(ax, hists[after], "stored (resized)", COLOR_AFTER)
        ax.set_title(title)
        ax.set_ylabel("images")
        ax.legend()
    return _png(fig)


def caption_plot(stats: dict) -> bytes | None:
    hist = (stats.get("histograms") or {}).get("caption_length")
    if not hist:
        return None
    fig, ax = plt.subplots(figsize=(7, 3.5))
    _hist_axes(ax, hist, "captions", COLOR_AFTER)
    ax.set_xlabel("caption length (characters)")
    ax.set_ylabel("images")
    ax.set_title("caption lengths")
    return _png(fig)


def queries_plot(stats: dict) -> bytes | None:
    """MetaCLIP's figure: matches per query against rank, log-log, before and after balancing, with t."""
    q = stats.get("queries")
    if not q or not q["distribution"]["rank"]:
        return None
    d = q["distribution"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.loglog(d["rank"], d["count_before"], color=COLOR_BEFORE, lw=2, label="before balancing")
    after = [(r, c) for r, c in zip(d["rank"], d["count_after"]) if c > 0]
    if after:
        ax.loglog(*zip(*after), color=COLOR_AFTER, lw=2, label="after balancing")
    if q.get("t"):
        ax.axhline(q["t"], color="#cf222e", ls="--", lw=1, label=f"t = {q['t']:,}")
    ax.set_xlabel("query rank (by matches)")
    ax.set_ylabel("matches per query")
    ax.set_title(f"per-query matches: {q['matched']:,} queries, {q['capped']:,} capped")
    ax.legend()
    return _png(fig)


def scores_plot(stats: dict) -> bytes | None:
    """The distribution of `wit score`'s CLIP scores, with the median."""
    sc = stats.get("scores")
    if not sc or not sc.get("histogram"):
        return None
    h = sc["histogram"]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.bar([h["start"] + i * h["bin_width"] for i in range(len(h["counts"]))], h["counts"], width=h["bin_width"],
           align="edge", color=COLOR_AFTER, alpha=0.7)
    ax.axvline(sc["p50"], color="#cf222e", ls="--", lw=1, label=f"median {sc['p50']:.3f}")
    ax.set_xlabel("CLIP score (cosine similarity of image and caption)")
    ax.set_ylabel("samples")
    ax.set_title(f"CLIP scores of {sc['count']:,} samples")
    ax.legend()
    return _png(fig)


PLOTS = {"status.png": status_plot, "image_sizes.png": sizes_plot, "caption_lengths.png": caption_plot,
         "query_counts_loglog.png": queries_plot, "clip_scores.png": scores_plot}


def render(stats: dict) -> dict[str, bytes]:
    out = {}
    for name, fn in PLOTS.items():
        png = fn(stats)
        if png:
            out[name] = png
    return out


def write(stats: dict, folder: str) -> list[str]:
    """Write the PNGs into a local folder; returns their paths."""
    os.makedirs(folder, exist_ok=True)
    paths = []
    for name, png in render(stats).items():
        path = os.path.join(folder, name)
        with open(path + ".tmp", "wb") as f:
            f.write(png)
        os.replace(path + ".tmp", path)
        paths.append(path)
    return paths
