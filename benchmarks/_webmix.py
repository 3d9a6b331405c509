"""A realistic web image mix for the download benchmark, built from real photos, deterministic for a seed.

What a crawl of image URLs meets, after the published LAION / img2dataset measurements: a mean body near
80-90 KB, many images well above 1000 px on the long side, and besides JPEG also PNG (some with an alpha
channel), WebP and GIF. The photos of ../shared/data/flickr8k/web_1k are all about 500x375, so the mix is made
from them like this:

  - every image is made of real photo pixels at (or below) their native resolution, never smoothly upscaled
    (but for a cell no photo can cover, rare and mild), so a large image keeps a photo's high-frequency detail
    and costs a decoder what a real one does. Layouts (compose()):
      photo    a small image is one photo cropped to its aspect and downscaled; a larger one is a tight collage:
               rows of cells of uneven widths, each a different photo cropped at native resolution (or mildly
               downscaled, >= 0.75x);
      gallery  such a collage with gutters and a margin on a plain ground;
      product  a block of photo pixels (one photo or a collage, 40-75% of each side) on a plain ground, as shop
               and banner images are: photo detail where the picture is, flat elsewhere;
  - sizes: LARGE_SHARE (30%) of the images have a long side of 1000-2000 px (skewed to the low end), the rest
    200-900 px (PNG and GIF 120-480); aspect ratios from panoramas (2:1) to portraits (2:3);
  - formats: JPEG 80% (quality 70-95, lower for large ones; a quarter progressive, a few greyscale), PNG 10%
    (small; half RGBA with a feathered alpha cut-out, the rest RGB or palette PNG-8), WebP 7% (quality 70-90,
    some large), GIF 3% (small, 256 colours).

Tuning: the 500 px Flickr photos carry more detail per pixel than most large web photos, so large images made
only of tight collages at the qualities of small ones put the mean near 190 KB. Half the large images as
product layouts, harder JPEG compression for large pictures (q70-82) and smaller thumbnails bring it to about
87 KB (1000 images from web_1k, seed 0: mean 87.3 KB, median 51.7 KB, 30% >= 1000 px; about 20 s to build on
one core). From other photos the mean lands wherever their detail puts it; the description says.

`build_mix(source, cache_root, count, seed)` builds (or finds in its cache: cache_root/<version, seed, count,
source digest>) the folder and returns a `Mix`: the folder, the file names (shuffled formats and sizes) and a
description (counts by format, long-side percentiles, bytes, layouts, detail against the source photos). Any
folder of JPEG photos can be the source. Standalone: ``python benchmarks/_webmix.py [--count N] [--seed S]``.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

VERSION = 1  # bump when the recipe changes: cached mixes of another version are rebuilt

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "flickr8k" / "web_1k"
DEFAULT_CACHE = ROOT / ".bench" / "webmix"

# The recipe. Shares of the images (exact counts per mix, spread by a seeded shuffle).
FORMAT_SHARES = (("jpg", 0.80), ("png", 0.10), ("webp", 0.07), ("gif", 0.03))
PNG_KINDS = (("rgba", 0.5), ("rgb", 0.25), ("palette", 0.25))  # of the PNGs; "rgba" ones have a real alpha
LARGE_SHARE = 0.30  # long side 1000-2000 px; only JPEG and WebP are large (a 2 Mpx photo PNG is 3-4 MB)
LARGE_SIDE = (1000, 2000, 3.0)  # low, high, skew (long side = low + (high - low) * u ** skew)
SMALL_SIDE = (200, 900, 2.0)
PNG_GIF_SIDE = (120, 480, 2.0)
ASPECTS = ((4 / 3, 0.28), (3 / 2, 0.20), (16 / 9, 0.10), (2.0, 0.04), (1.0, 0.14), (3 / 4, 0.12), (2 / 3, 0.12))
# Layouts (compose()): large images, then the others.
LARGE_LAYOUTS = (("photo", 0.30), ("gallery", 0.20), ("product", 0.50))
SMALL_LAYOUTS = (("photo", 0.85), ("gallery", 0.03), ("product", 0.12))
JPEG_QUALITY = (70, 95, 78)  # triangular: low, high, mode
JPEG_QUALITY_LARGE = (70, 82, 70)  # big pictures are compressed harder
JPEG_PROGRESSIVE = 0.25
JPEG_GREY = 0.02
WEBP_QUALITY = (70, 90)

EXT_NAMES = {"jpg": "JPEG", "png": "PNG", "webp": "WebP", "gif": "GIF"}


@dataclass
class Mix:
    folder: Path
    names: list[str]  # the files, in build order
    description: dict  # see describe(); what was built (for all names)
    build_s: float | None = None  # seconds spent building; None when it came from the cache
    cached: bool = False
    specs: list[dict] = field(default_factory=list)

    def describe(self, names: list[str] | None = None) -> dict:
        """The description of all the mix or of a subset of its names."""
        if names is None or list(names) == self.names:
            return self.description
        wanted = set(names)
        desc = describe([s for s in self.specs if s["name"] in wanted], self.folder)
        desc["detail_ratio"] = self.description.get("detail_ratio")
        return desc


# ---------------------------------------------------------------------------------------------- sources

def list_sources(source: Path) -> list[tuple[str, int, int]]:
    """(name, width, height) of every JPEG photo in `source`, sorted by name (headers only: nothing decoded)."""
    found = []
    for path in sorted(source.iterdir()):
        if path.suffix.lower() not in (".jpg", ".jpeg") or not path.is_file():
            continue
        with Image.open(path) as im:
            found.append((path.name, *im.size))
    if not found:
        raise ValueError(f"no JPEG photos in {source}")
    return found


def source_digest(sources: list[tuple[str, int, int]], source: Path) -> str:
    h = hashlib.sha256()
    for name, w, h_ in sources:
        h.update(f"{name}\0{w}\0{h_}\0{(source / name).stat().st_size}\n".encode())
    return h.hexdigest()[:12]


def _load(source: Path, name: str) -> Image.Image:
    with Image.open(source / name) as im:
        return im.convert("RGB")


# ---------------------------------------------------------------------------------------------- the plan

def _exact_counts(shares, n: int, at_least_one: bool) -> list[tuple[str, int]]:
    """Largest-remainder counts for `shares` summing to n (each at least 1 when asked and n allows)."""
    raw = [(k, s * n) for k, s in shares]
    counts = {k: int(v) for k, v in raw}
    for k, _ in sorted(raw, key=lambda kv: kv[1] - int(kv[1]), reverse=True)[: n - sum(counts.values())]:
        counts[k] += 1
    if at_least_one and n >= len(shares):
        for k, _ in shares:
            while counts[k] == 0:
                donor = max(counts, key=counts.get)
                counts[donor] -= 1
                counts[k] += 1
    return [(k, counts[k]) for k, _ in shares]


def _weighted(rng: random.Random, pairs):
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def plan(count: int, seed: int) -> list[dict]:
    """One spec per image: name, format, size, encoder settings. Deterministic for (count, seed)."""
    rng = random.Random(f"webmix-plan-{seed}-{count}")
    formats = [f for f, n in _exact_counts(FORMAT_SHARES, count, at_least_one=count >= 10) for _ in range(n)]
    rng.shuffle(formats)
    n_png = formats.count("png")
    png_kinds = [k for k, n in _exact_counts(PNG_KINDS, n_png, at_least_one=True) for _ in range(n)]
    rng.shuffle(png_kinds)
    # Large images: among JPEG and WebP only, LARGE_SHARE of all images in all.
    can_be_large = [i for i, f in enumerate(formats) if f in ("jpg", "webp")]
    n_large = min(len(can_be_large), round(LARGE_SHARE * count))
    large = set(rng.sample(can_be_large, n_large))
    specs = []
    for i, fmt in enumerate(formats):
        big = i in large
        lo, hi, skew = LARGE_SIDE if big else PNG_GIF_SIDE if fmt in ("png", "gif") else SMALL_SIDE
        long_side = round(lo + (hi - lo) * rng.random() ** skew)
        aspect = _weighted(rng, ASPECTS)
        if aspect >= 1:
            w, h = long_side, max(16, round(long_side / aspect))
        else:
            w, h = max(16, round(long_side * aspect)), long_side
        spec = {"name": f"{i:05d}_{w}x{h}.{fmt}", "format": fmt, "width": w, "height": h,
                "layout": _weighted(rng, LARGE_LAYOUTS if big else SMALL_LAYOUTS), "seed": rng.getrandbits(32)}
        if fmt == "jpg":
            spec["quality"] = round(rng.triangular(*(JPEG_QUALITY_LARGE if big else JPEG_QUALITY)))
            spec["progressive"] = rng.random() < JPEG_PROGRESSIVE
            spec["grey"] = rng.random() < JPEG_GREY
        elif fmt == "webp":
            spec["quality"] = rng.randint(*WEBP_QUALITY)
        elif fmt == "png":
            spec["kind"] = png_kinds.pop()
        specs.append(spec)
    return specs


# ---------------------------------------------------------------------------------------------- pictures

class _Sources:
    """Picks source photos for a picture, decodes them (a small LRU of decoded photos)."""

    def __init__(self, folder: Path, sources: list[tuple[str, int, int]]):
        self.folder = folder
        self.sources = sources
        self._cache: dict[str, Image.Image] = {}
        longs = sorted(max(w, h) for _, w, h in sources)
        shorts = sorted(min(w, h) for _, w, h in sources)
        self.long = longs[len(longs) // 2]
        self.short = shorts[len(shorts) // 2]

    def get(self, name: str) -> Image.Image:
        img = self._cache.pop(name, None)
        if img is None:
            img = _load(self.folder, name)
            if len(self._cache) >= 32:
                self._cache.pop(next(iter(self._cache)))
        self._cache[name] = img
        return img

    def pick_covering(self, rng: random.Random, cw: int, ch: int, tries: int = 12):
        """A source at least cw x ch (so a crop of it needs no upscale), else the nearest seen."""
        best, best_scale = None, math.inf
        for _ in range(tries):
            name, sw, sh = self.sources[rng.randrange(len(self.sources))]
            scale = max(cw / sw, ch / sh)  # the cover scale: > 1 would upscale
            if scale <= 1:
                return name, sw, sh
            if scale < best_scale:
                best, best_scale = (name, sw, sh), scale
        return best


def _crop_into(rng: random.Random, photo: Image.Image, cw: int, ch: int, native: float = 0.7,
               min_scale: float = 0.75) -> Image.Image:
    """A crop of `photo` with the aspect of cw x ch, resized to cw x ch: with probability `native` at the
    photo's own resolution (no resampling), else mildly downscaled (scale in [min_scale, 1])."""
    sw, sh = photo.size
    cover = max(cw / sw, ch / sh)
    if cover >= 1:  # the photo is smaller than the cell: cover it (the rare, mild upscale)
        scale = cover
    elif rng.random() < native:
        scale = 1.0
    else:
        scale = rng.uniform(max(cover, min_scale), 1.0)  # output px per source px
    crop_w = min(sw, max(1, round(cw / scale)))
    crop_h = min(sh, max(1, round(ch / scale)))
    x = rng.randint(0, sw - crop_w)
    y = rng.randint(0, sh - crop_h)
    box = (x, y, x + crop_w, y + crop_h)
    if (crop_w, crop_h) == (cw, ch):
        return photo.crop(box)
    return photo.resize((cw, ch), Image.Resampling.BICUBIC, box=box, reducing_gap=3.0)


def _split(rng: random.Random, total: int, parts: int, jitter: float) -> list[int]:
    """`total` split into `parts` positive integers of about equal size (+- jitter)."""
    weights = [1 + rng.uniform(-jitter, jitter) for _ in range(parts)]
    scale = total / sum(weights)
    sizes = [max(1, int(w * scale)) for w in weights]
    sizes[-1] += total - sum(sizes)
    return sizes


_GROUNDS = ((255, 255, 255), (255, 255, 255), (246, 246, 246), (236, 238, 240), (20, 20, 20), (250, 246, 238))


def _fill(rng: random.Random, srcs: _Sources, w: int, h: int, gutter: int = 0, margin: int = 0,
          ground=(255, 255, 255)) -> Image.Image:
    """Real photo pixels over w x h: one photo cropped (and downscaled) to it when one covers it, else a
    collage: rows of cells, each at most about a photo's size, so its pixels are (near) native."""
    name, sw, sh = srcs.pick_covering(rng, w, h)
    if max(w / sw, h / sh) <= 1 and not margin:
        return _crop_into(rng, srcs.get(name), w, h, native=0.3, min_scale=0.5)
    canvas = Image.new("RGB", (w, h), ground)
    cell_w = srcs.long * rng.uniform(0.65, 1.0)  # cells are landscape-ish, like most photos
    cell_h = srcs.short * rng.uniform(0.65, 1.0)
    inner_w, inner_h = w - 2 * margin, h - 2 * margin
    rows = max(1, math.ceil(inner_h / cell_h))
    heights = _split(rng, inner_h - gutter * (rows - 1), rows, 0.15)
    y = margin
    for rh in heights:
        cols = max(1, math.ceil(inner_w / cell_w) + rng.choice((0, 0, 1)))
        widths = _split(rng, inner_w - gutter * (cols - 1), cols, 0.25)
        x = margin
        for cw in widths:
            if cw > 0 and rh > 0:
                name, _, _ = srcs.pick_covering(rng, cw, rh)
                canvas.paste(_crop_into(rng, srcs.get(name), cw, rh), (x, y))
            x += cw + gutter
        y += rh + gutter
    return canvas


def compose(spec: dict, srcs: _Sources) -> Image.Image:
    """The RGB picture of a spec, by its layout:
      photo    one photo cropped to the aspect and downscaled, or (larger than any photo) a tight collage;
      gallery  a collage with gutters and a margin on a plain ground;
      product  a block of photo pixels (one photo or a collage) on a plain ground, as shop and banner
               images are: real detail where the picture is, flat elsewhere."""
    rng = random.Random(spec["seed"])
    w, h = spec["width"], spec["height"]
    layout = spec.get("layout", "photo")
    ground = rng.choice(_GROUNDS)
    if layout == "gallery":
        gutter = rng.randint(max(3, min(w, h) // 60), max(3, min(w, h) // 25))
        return _fill(rng, srcs, w, h, gutter=gutter, margin=rng.randint(gutter, 3 * gutter), ground=ground)
    if layout == "product":
        canvas = Image.new("RGB", (w, h), ground)
        bw, bh = max(8, round(w * rng.uniform(0.4, 0.75))), max(8, round(h * rng.uniform(0.4, 0.75)))
        block = _fill(rng, srcs, bw, bh, gutter=rng.choice((0, 0, 3)), ground=ground)
        canvas.paste(block, (rng.randint(0, w - bw), rng.randint(0, h - bh)))
        return canvas
    return _fill(rng, srcs, w, h, gutter=rng.choice((0, 0, 0, 2)), ground=ground)


def _alpha_cutout(rng: random.Random, w: int, h: int) -> Image.Image:
    """A feathered cut-out mask: an ellipse or a rounded rectangle on a transparent ground, soft edges."""
    mask = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(mask)
    mx, my = rng.uniform(0.05, 0.2) * w, rng.uniform(0.05, 0.2) * h
    box = (mx, my, w - mx, h - my)
    if rng.random() < 0.5:
        draw.ellipse(box, fill=255)
    else:
        draw.rounded_rectangle(box, radius=rng.uniform(0.05, 0.25) * min(w, h), fill=255)
    feather = max(1.0, rng.uniform(0.01, 0.05) * min(w, h))
    mask = mask.filter(ImageFilter.GaussianBlur(feather))
    if rng.random() < 0.3:  # a translucent overall fade, as some overlay PNGs have
        mask = mask.point(lambda a: a * 0.85)
    return mask


def encode(spec: dict, rgb: Image.Image) -> bytes:
    rng = random.Random(spec["seed"] ^ 0x5EED)
    buf = io.BytesIO()
    fmt = spec["format"]
    if fmt == "jpg":
        img = rgb.convert("L") if spec.get("grey") else rgb
        img.save(buf, "JPEG", quality=spec["quality"], progressive=spec["progressive"], optimize=True)
    elif fmt == "webp":
        rgb.save(buf, "WEBP", quality=spec["quality"], method=4)
    elif fmt == "gif":
        rgb.quantize(colors=256, method=Image.Quantize.FASTOCTREE).save(buf, "GIF")
    else:
        kind = spec["kind"]
        if kind == "rgba":
            mask = _alpha_cutout(rng, *rgb.size)
            rgba = rgb.convert("RGBA")
            # Fully transparent pixels carry no colour (as exporters write them).
            clear = Image.new("RGBA", rgb.size, (0, 0, 0, 0))
            rgba = Image.composite(rgba, clear, mask.point(lambda a: 255 if a else 0))
            rgba.putalpha(mask)
            rgba.save(buf, "PNG")
        elif kind == "palette":
            rgb.quantize(colors=256, method=Image.Quantize.FASTOCTREE).save(buf, "PNG")  # PNG-8
        else:
            rgb.save(buf, "PNG")
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------- detail

def detail(img: Image.Image) -> float:
    """High-frequency energy per pixel: mean absolute 4-neighbour Laplacian of the luma (0-255 scale).

    A photo at native resolution scores far above a smooth upscale of it (2x bilinear: about a third)."""
    a = np.asarray(img.convert("L"), dtype=np.float32)
    if a.shape[0] < 3 or a.shape[1] < 3:
        return 0.0
    lap = 4 * a[1:-1, 1:-1] - a[:-2, 1:-1] - a[2:, 1:-1] - a[1:-1, :-2] - a[1:-1, 2:]
    return float(np.abs(lap).mean())


def _detail_ratio(folder: Path, specs: list[dict], source: Path, sources, seed: int, sample: int = 16) -> dict:
    """Median detail of the large tight collages (layout "photo") and of all large images, over that of the
    source photos, on a sample of each (for the description)."""
    rng = random.Random(seed)
    large = [s for s in specs if max(s["width"], s["height"]) >= LARGE_SIDE[0]]
    collages = [s for s in large if s.get("layout") == "photo"]
    if not large:
        return {}

    def med(chosen, folder_):
        return statistics.median(detail(Image.open(folder_ / n)) for n in chosen) if chosen else None

    src = med([n for n, _, _ in rng.sample(sources, min(sample, len(sources)))], source)
    big = med([s["name"] for s in rng.sample(large, min(sample, len(large)))], folder)
    tight = med([s["name"] for s in rng.sample(collages, min(sample, len(collages)))], folder)
    return {"source_photos": src, "large_images": big, "ratio": big / src,
            "large_collages": tight, "collage_ratio": tight / src if tight is not None else None}


# ---------------------------------------------------------------------------------------------- describe

def _pct(sorted_values, q: float):
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))]


def describe(specs: list[dict], folder: Path) -> dict:
    """Counts by format, long-side percentiles and file-size figures of the built images."""
    sizes = [s.get("bytes") or (folder / s["name"]).stat().st_size for s in specs]
    longs = sorted(max(s["width"], s["height"]) for s in specs)
    by_format: dict[str, dict] = {}
    layouts: dict[str, int] = {}
    for s, b in zip(specs, sizes):
        f = by_format.setdefault(s["format"], {"count": 0, "bytes": 0})
        f["count"] += 1
        f["bytes"] += b
        if s["format"] == "png":
            f[s["kind"]] = f.get(s["kind"], 0) + 1
        if s["format"] == "jpg":
            f["progressive"] = f.get("progressive", 0) + int(bool(s.get("progressive")))
            f["grey"] = f.get("grey", 0) + int(bool(s.get("grey")))
        if max(s["width"], s["height"]) >= LARGE_SIDE[0]:
            f["large"] = f.get("large", 0) + 1
        layouts[s.get("layout", "photo")] = layouts.get(s.get("layout", "photo"), 0) + 1
    for f in by_format.values():
        f["mean_bytes"] = f["bytes"] / f["count"]
    n = len(specs)
    q = [s["quality"] for s in specs if s["format"] == "jpg"]
    return {
        "images": n,
        "formats": {k: by_format[k] for k in EXT_NAMES if k in by_format},
        "jpeg_quality": [min(q), max(q)] if q else None,
        "layouts": layouts,
        "long_side_px": {"p10": _pct(longs, 0.10), "p25": _pct(longs, 0.25), "p50": _pct(longs, 0.50),
                         "p75": _pct(longs, 0.75), "p90": _pct(longs, 0.90), "max": longs[-1] if longs else None},
        "share_long_side_1000_plus": sum(v >= LARGE_SIDE[0] for v in longs) / n if n else 0.0,
        "mean_megapixels": sum(s["width"] * s["height"] for s in specs) / n / 1e6 if n else 0.0,
        "mean_bytes": sum(sizes) / n if n else 0.0,
        "median_bytes": statistics.median(sizes) if sizes else 0.0,
        "p90_bytes": _pct(sorted(sizes), 0.90),
        "total_bytes": sum(sizes),
    }


def summary_lines(desc: dict, label: str = "web mix") -> list[str]:
    """The description in a few printable lines."""
    n = desc["images"]
    parts = []
    for k, f in desc["formats"].items():
        extra = []
        if k == "jpg":
            if desc.get("jpeg_quality"):
                extra.append("q{}-{}".format(*desc["jpeg_quality"]))
            extra.append(f"{f.get('progressive', 0)} progressive")
            if f.get("grey"):
                extra.append(f"{f['grey']} grey")
        if k == "png":
            extra.append(f"{f.get('rgba', 0)} RGBA with alpha, {f.get('palette', 0)} palette, {f.get('rgb', 0)} RGB")
        if f.get("large"):
            extra.append(f"{f['large']} >= 1000 px")
        parts.append(f"{EXT_NAMES[k]} {f['count']} ({f['count'] / n:.0%}; {', '.join(extra)}; "
                     f"mean {f['mean_bytes'] / 1000:.0f} KB)" if extra else
                     f"{EXT_NAMES[k]} {f['count']} ({f['count'] / n:.0%}; mean {f['mean_bytes'] / 1000:.0f} KB)")
    ls = desc["long_side_px"]
    lines = [
        f"{label}: {n} distinct images: " + ", ".join(parts),
        f"  long side px p10/p25/p50/p75/p90/max "
        f"{'/'.join(str(ls[k]) for k in ('p10', 'p25', 'p50', 'p75', 'p90', 'max'))}, "
        f"{desc['share_long_side_1000_plus']:.0%} >= 1000 px, mean {desc['mean_megapixels']:.2f} Mpx; layouts "
        + ", ".join(f"{k} {v}" for k, v in sorted(desc.get("layouts", {}).items())),
        f"  bytes mean {desc['mean_bytes'] / 1000:.1f} KB, median {desc['median_bytes'] / 1000:.1f} KB, "
        f"p90 {desc['p90_bytes'] / 1000:.0f} KB, total {desc['total_bytes'] / 1e6:.1f} MB",
    ]
    d = desc.get("detail_ratio")
    if d:
        tight = (f"; tight collages {d['large_collages']:.1f}, {d['collage_ratio']:.2f}x"
                 if d.get("large_collages") is not None else "")
        lines.append(f"  detail (mean |Laplacian| per px): source photos {d['source_photos']:.1f}; >= 1000 px images "
                     f"{d['large_images']:.1f}, {d['ratio']:.2f}x{tight} (a smooth 2x upscale: about 0.3-0.5x)")
    return lines


# ---------------------------------------------------------------------------------------------- build

def build_mix(source: Path | str = DEFAULT_SOURCE, cache_root: Path | str = DEFAULT_CACHE, count: int = 1000,
              seed: int = 0, quiet: bool = False) -> Mix:
    """The mix of `count` images from the JPEG photos of `source`, built into (or found in) a folder under
    `cache_root` named by seed, count, the source's digest and the recipe's version."""
    source, cache_root = Path(source), Path(cache_root)
    if count < 1:
        raise ValueError("count must be at least 1")
    sources = list_sources(source)
    key = f"v{VERSION}-seed{seed}-n{count}-src{source_digest(sources, source)}"
    folder = cache_root / key
    meta_path = folder / "mix.json"
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text())
            names = [s["name"] for s in meta["specs"]]
            if all((folder / n).is_file() for n in names):
                return Mix(folder, names, meta["description"], None, True, meta["specs"])
        except (ValueError, KeyError):
            pass
    started = time.perf_counter()
    cache_root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=cache_root))
    try:
        specs = plan(count, seed)
        srcs = _Sources(source, sources)
        if not quiet:
            print(f"Building the web mix: {count} images from {len(sources)} photos in {source} ...", flush=True)
        for spec in specs:
            body = encode(spec, compose(spec, srcs))
            spec["bytes"] = len(body)
            (tmp / spec["name"]).write_bytes(body)
        description = describe(specs, tmp)
        description["detail_ratio"] = _detail_ratio(tmp, specs, source, sources, seed)
        description["source"] = {"folder": str(source), "photos": len(sources)}
        description["seed"] = seed
        description["version"] = VERSION
        (tmp / "mix.json").write_text(json.dumps({"description": description, "specs": specs}, indent=1) + "\n")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    build_s = time.perf_counter() - started
    if not quiet:
        print(f"  built in {build_s:.1f} s into {folder}", flush=True)
    return Mix(folder, [s["name"] for s in specs], description, build_s, False, specs)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Build (or find cached) the realistic web image mix and describe it.")
    p.add_argument("--count", type=int, default=1000, help="distinct images (default 1000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--source", default=str(DEFAULT_SOURCE),
                   help="folder of JPEG photos (default: Flickr8k web_1k)")
    p.add_argument("--cache", default=str(DEFAULT_CACHE), help="folder the mixes are cached under")
    args = p.parse_args(argv)
    mix = build_mix(args.source, args.cache, args.count, args.seed)
    print("\n".join(summary_lines(mix.description)))
    print(f"folder: {mix.folder}{' (cached)' if mix.cached else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
