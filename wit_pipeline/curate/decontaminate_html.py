"""The HTML page of `wit decontaminate --html`: per-set counts and matched pairs side by side (corpus image |
evaluation image), every image embedded as a small base64 JPEG, every text escaped (keys, file names and
captions are untrusted). Nothing is fetched when the page opens."""
from __future__ import annotations

import io
import os

from PIL import Image

from wit_pipeline.stats.html import CSS, data_uri, esc, table

THUMB = 200  # px, the longer side of each shown image
PAGE_CSS = CSS + """
.pairs{display:grid;grid-template-columns:repeat(auto-fill,minmax(430px,1fr));gap:12px}
.pair{border:1px solid #d0d7de;border-radius:6px;padding:8px;overflow-wrap:anywhere;font-size:13px}
.pair .imgs{display:flex;gap:6px} .pair .imgs div{flex:1;text-align:center}
.pair img{width:100%;height:180px;object-fit:contain;background:#f6f8fa}
.miss{height:180px;background:#f6f8fa;color:#8c959f;display:flex;align-items:center;justify-content:center}
.bad{color:#cf222e}
"""


def _thumb(source) -> str | None:
    """A data URI of a small JPEG of image bytes or a path, or None when it cannot be read."""
    try:
        img = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
        img.draft("RGB", (THUMB, THUMB))
        img = img.convert("RGB")
        img.thumbnail((THUMB, THUMB))
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=80)
        return data_uri(buf.getvalue(), "image/jpeg")
    except Exception:  # noqa: BLE001 - a page with a gap, not a failed report
        return None


def _img(uri: str | None, alt: str) -> str:
    return f'<img src="{uri}" alt="{esc(alt)}">' if uri else '<div class="miss">not readable</div>'


def render(found, examples: int = 60) -> str:
    """The page of a decontaminate.Found run with keep_images=True."""
    totals, sets, report = found.totals(), found.per_set(), found.report()
    images = {key: data for s in found.shards for key, data in s.images.items()}
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>wit decontaminate</title>",
             f"<style>{PAGE_CSS}</style></head><body>", "<h1>Evaluation images in the corpus</h1>",
             f"<p>Corpus {esc(found.corpus)}: {totals['samples']:,} samples in {totals['shards']:,} shards, "
             f"{totals['compared']:,} compared; {totals['matched_samples']:,} matched an evaluation image "
             f"(256-bit DCT hash distance at most {found.max_distance}).</p>"]
    parts.append("<h2>Per evaluation set</h2>")
    parts.append(table(["set", "folder", "images", "indexed", "found in the corpus", "corpus samples matched"],
                       [[name, s["folder"], s["eval_images"], s["indexed"], s["eval_images_found"],
                         s["corpus_samples_matched"]] for name, s in sets.items()]))
    s = report["settings"]
    parts.append(f"<p>Settings: crops {esc(s['crops'])}, {s['views_per_eval_image']} views per evaluation image; "
                 f"times {esc(found.seconds)}.</p>")
    matches = report["matches"]
    first, seen = [], set()
    for i, m in enumerate(matches):  # one pair per corpus sample (its closest match) first, then the others
        if m["key"] not in seen:
            seen.add(m["key"])
            first.append(i)
    others = sorted(set(range(len(matches))) - set(first))
    shown = [matches[i] for i in (first + others)[:examples]]
    parts.append(f"<h2>Matched pairs ({len(shown)} of {len(matches)}): corpus | evaluation</h2><div class='pairs'>")
    eval_thumbs: dict[str, str | None] = {}
    for m in shown:
        if m["eval_file"] not in eval_thumbs:
            eval_thumbs[m["eval_file"]] = _thumb(m["eval_file"])
        corpus_uri = _thumb(images[m["key"]]) if m["key"] in images else None
        extra = ""
        if "similarity" in m:
            flag = "" if m["confirmed"] else " class='bad'"
            extra = f"<br><span{flag}>embedding similarity {esc(m['similarity'])}" + \
                    ("" if m["confirmed"] else " (below the threshold: not counted)") + "</span>"
        parts.append(
            f"<div class='pair'><div class='imgs'><div>{_img(corpus_uri, m['key'])}</div>"
            f"<div>{_img(eval_thumbs[m['eval_file']], m['eval_file'])}</div></div>"
            f"<b>{esc(m['key'])}</b> (shard {esc(m['shard'])}) | {esc(m['eval_set'])}: "
            f"{esc(os.path.basename(m['eval_file']))}<br>distance {m['distance']} (64-bit {m['distance_64']}), "
            f"view {esc(m['view'])}{extra}</div>")
    parts.append("</div></body></html>")
    return "\n".join(parts)


def write(found, path: str, examples: int = 60) -> str:
    page = render(found, examples)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(page)
    os.replace(path + ".tmp", path)
    return path
