"""One self-contained HTML report: the tables of a `collect` stats dict, its plots and a gallery of sample
images, all embedded (base64 data URIs, inline CSS); nothing is fetched when the page opens. Every text that
comes from the corpus (captions, URLs, error messages, query strings) is escaped: it is untrusted web text.
"""
from __future__ import annotations

import base64
import html
import json
import os

from wit_pipeline.stats import plots

MIME = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:24px auto;max-width:1200px;color:#1f2328}
h1{font-size:26px} h2{font-size:20px;border-bottom:1px solid #d0d7de;padding-bottom:4px;margin-top:32px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:14px}
th,td{border:1px solid #d0d7de;padding:4px 10px;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums} th{background:#f6f8fa}
.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{border:1px solid #d0d7de;border-radius:6px;padding:10px 16px;min-width:140px}
.card b{display:block;font-size:22px}
.plots img{max-width:100%;border:1px solid #eee;margin:6px 0}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(180px,1fr));gap:12px}
.gallery figure{margin:0;border:1px solid #d0d7de;border-radius:6px;padding:6px;overflow-wrap:anywhere}
.gallery img{width:100%;height:150px;object-fit:contain;background:#f6f8fa}
figcaption{font-size:13px} .q{color:#57606a;font-size:12px} .k{color:#8c959f;font-size:11px}
"""


def esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _num(v) -> str:
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1000 else f"{v:,.0f}"
    return f"{v:,}" if isinstance(v, int) else esc(v)


def table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(
        f'<td class="n">{_num(c)}</td>' if isinstance(c, (int, float)) and not isinstance(c, bool)
        else f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _quantile_rows(named: dict) -> list[list]:
    keys = ("count", "mean", "min", "p05", "p25", "p50", "p75", "p95", "max")
    return [[name] + [q.get(k, "") for k in keys] for name, q in named.items()]


def _figure(s: dict, note: str = "") -> str:
    queries = ", ".join(s.get("queries") or [])
    src = data_uri(s["image"], MIME.get(s["ext"], "image/jpeg"))
    return (f'<figure><img alt="{esc(s.get("caption"))}" src="{src}">'
            f"<figcaption>{esc(s.get('caption'))}"
            + (f'<div class="q">queries: {esc(queries)}</div>' if queries else "")
            + (f'<div class="q">{esc(note)}</div>' if note else "")
            + f'<div class="k">{esc(s["key"])}</div></figcaption></figure>')


def _scores_section(sc: dict, scored: dict | None) -> list[str]:
    parts = [f"<h2>CLIP scores</h2><p>{sc['count']:,} samples scored, {sc['unscored']:,} unscored, by "
             + esc(", ".join(f"{c['checkpoint']} (step {c['step']})" for c in sc["checkpoints"])) + ".</p>"]
    if sc["count"]:
        keys = ["count", "mean", "min", "p01", "p05", "p25", "p50", "p75", "p95", "p99", "max"]
        parts.append(table(keys, [[sc[k] for k in keys]]))
    for side in ("lowest", "highest"):
        shown = (scored or {}).get(side) or []
        if shown:
            parts.append(f"<h3>{side.capitalize()} scored pairs</h3><div class=\"gallery\">"
                         + "".join(_figure(s, f"score {s['score']:.4f}") for s in shown) + "</div>")
    return parts


def render(stats: dict, samples: list[dict] | None = None, title: str = "WIT corpus report",
           scored: dict | None = None) -> str:
    """The page; `scored`: collect.scored_samples's lowest and highest scored pairs, shown with the scores."""
    t = stats["totals"]
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{esc(title)}</title>",
             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
             "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
             "style-src 'unsafe-inline'\">", f"<style>{CSS}</style></head><body>",
             f"<h1>{esc(title)}</h1><p>{esc(stats['corpus']['path'])}: {stats['corpus']['shards']:,} shards</p>"]
    rate = t["success_rate"]
    cards = [("rows", f"{t['rows']:,}"), ("images", f"{t['success']:,}"), ("failed", f"{t['failed']:,}"),
             ("success rate", "-" if rate is None else f"{100 * rate:.1f}%"),
             ("duplicate images", f"{stats['duplicates']['duplicate_rows']:,}")]
    if stats.get("queries"):
        cards.append(("queries capped", f"{stats['queries']['capped']:,} / {stats['queries']['matched']:,}"))
    parts.append('<div class="cards">' + "".join(f"<div class=\"card\">{esc(k)}<b>{esc(v)}</b></div>"
                                                 for k, v in cards) + "</div>")
    pngs = plots.render(stats)
    if pngs:
        parts.append('<h2>Plots</h2><div class="plots">' + "".join(
            f'<img alt="{esc(name)}" src="{data_uri(png, "image/png")}">' for name, png in pngs.items()) + "</div>")

    parts.append("<h2>Download status</h2>")
    parts.append(table(["status", "rows", "share"],
                       [[s, n, f"{100 * n / max(t['rows'], 1):.2f}%"] for s, n in stats["status"].items()]))
    if stats["errors"]:
        parts.append(f"<h3>Failures by error message (top {len(stats['errors'])} of "
                     f"{stats['error_messages']:,})</h3>")
        parts.append(table(["status", "error message", "rows"],
                           [[e["status"], e["error_message"], e["count"]] for e in stats["errors"]]))
    if stats["failing_hosts"]:
        parts.append("<h3>Hosts with most failures</h3>")
        parts.append(table(["host", "failed rows"], [[h["host"], h["count"]] for h in stats["failing_hosts"]]))

    parts.append("<h2>Images and captions</h2>")
    parts.append(table(["", "count", "mean", "min", "p05", "p25", "p50", "p75", "p95", "max"],
                       _quantile_rows({**stats["image_sizes"], "caption length (chars)": stats["caption_length"]})))
    if stats["languages"]:
        parts.append("<h3>Languages</h3>" + table(["language", "images"], list(stats["languages"].items())[:30]))
    d = stats["duplicates"]
    parts.append(f"<h3>Duplicates</h3><p>{d['images']:,} images, {d['distinct']:,} distinct (sha256); "
                 f"{d['duplicated_images']:,} images stored more than once, {d['duplicate_rows']:,} extra copies.</p>")
    if d["top"]:
        parts.append(table(["sha256 (first 16 hex)", "copies"], [[r["sha256_prefix"], r["count"]] for r in d["top"]]))

    q = stats.get("queries")
    if q:
        parts.append("<h2>Query balancing</h2>")
        at_t = "" if q["t"] is None else f" at t = {q['t']:,}"
        parts.append(f"<p>{q['matched']:,} queries matched; {q['matches_before']:,} matches before balancing, "
                     f"{q['matches_after']:,} after; {q['capped']:,} head queries capped{at_t}; "
                     f"{q['singletons']:,} queries matched once, {q['at_most_10']:,} at most 10 times.</p>")
        cols = ["query", "id", "before", "after", "keep probability"]
        for name in ("head", "tail"):
            parts.append(f"<h3>{name}</h3>" + table(cols, [[r["query"], r["query_id"], r["count_before"],
                                                            r["count_after"], r["keep_probability"]] for r in q[name]]))
    r = stats.get("rejected")
    if r:
        parts.append(f"<h2>Rejected before download ({r['total']:,})</h2>")
        parts.append(table(["stage", "reason", "rows"], [[x["stage"], x["reason"], x["count"]] for x in r["by_reason"]]))
    if stats.get("pipeline"):
        rows = [[stage, k, v] for stage, counters in stats["pipeline"].items() for k, v in counters.items()]
        parts.append("<h2>Pipeline counters</h2>" + table(["stage", "counter", "value"], rows))

    if stats.get("scores"):
        parts.extend(_scores_section(stats["scores"], scored))
    if samples:
        parts.append(f"<h2>Sample images ({len(samples)})</h2><div class=\"gallery\">")
        parts.extend(_figure(s) for s in samples)
        parts.append("</div>")
    # the raw numbers, for anyone who saves the page: inert JSON, '<' escaped so no tag can close the element
    raw = json.dumps({k: v for k, v in stats.items() if k != "shards"}).replace("<", "\\u003c")
    parts.append(f'<script type="application/json" id="stats">{raw}</script>')
    parts.append("</body></html>")
    return "\n".join(parts)


def write(stats: dict, path: str, samples: list[dict] | None = None, scored: dict | None = None) -> str:
    page = render(stats, samples, scored=scored)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(page)
    os.replace(path + ".tmp", path)
    return path
