"""Find the corpus images that are copies of evaluation images: resized, recompressed, slightly cropped,
brightness- or colour-shifted. Plain Python (numpy and Pillow), no Beam, no torch; `wit decontaminate` runs it.

The hash. An image is decoded in grey at a small size (JPEGs through Pillow's draft mode, which lets libjpeg
skip most of the inverse DCT: a 1/2, 1/4 or 1/8 scale, still at least 64 px on the short side for corpus
images), EXIF orientation applied, transparency on white, then averaged down to 32 x 32 (box filter) without
keeping the aspect ratio. Its 2-D DCT gives two hashes, both the signs of low-frequency coefficients against
their median (the DC term, which holds the mean brightness, left out):
- a 64-bit pHash of the 64 lowest frequencies (the usual perceptual hash), used only as a cheap pre-filter;
- a 256-bit hash of the 256 lowest frequencies, whose Hamming distance decides. More bits separate better: a
  copy under JPEG q60, resizing and a brightness or colour shift stays within about 30 of 256 bits, different
  photos are about 128 apart and, in Flickr8k, never closer than about 70.
Both are blind to a brightness offset (the DC term), a contrast change (signs against the median) and the
chroma (grey), and little moved by resizing and recompression (low frequencies). A crop moves everything,
so each evaluation image is indexed as several *views*: the whole image and, for each crop fraction c (5% and
10% by default), the 3 x 3 grid of c-crops at offsets 0, c/2 and c in each direction, 19 views in all. A
corpus copy cropped by up to about 10% anywhere then lies close to one view. Flat images (grey standard
deviation below 2 of 255 at 32 x 32) have no meaningful hash: they are counted, never matched.

The lookup is brute force but vectorised: for a block of corpus hashes against a block of the index (sized to
stay in cache), numpy XORs the 64-bit hashes and counts their bits (np.bitwise_count); the few pairs within
the pre-filter distance (0.4% of unrelated pairs) get their 256-bit distance the same way. The cost per corpus
image is linear in the index size V = evaluation images x views (19 by default): about 3 ns per view on one
core here, so 1,000 evaluation images (19,000 views) add 0.06 ms to the 0.7 ms (160 px JPEG) to 1.3 ms (500x375)
of reading, decoding and hashing a corpus image, while 100,000 evaluation images (1.9 million views, 76 MB of hashes)
add about 6 ms: several times the decoding, still about a CPU-hour per 600,000 corpus images, and halved by
`--crops 0.05` (10 views) when the copies to catch are cropped by 8% at most. Past that, a multi-index hash
table (split the 64-bit hash into words; a pair within distance d agrees exactly on one of k words when
d < k) would make the lookup sublinear; it is not needed at the size of today's evaluation sets.

Work is spread over processes: evaluation images in chunks, then corpus shards (one shard per task), each
process holding the index (forked, not copied, on Linux).
"""
from __future__ import annotations

import io
import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageOps

from wit_pipeline.curate.corpus import Shard, find_shards, image_of, iter_samples, members_by_ext
from wit_pipeline.curate.decontaminate_options import CROPS, MAX_DISTANCE, DecontaminateOptions

Image.MAX_IMAGE_PIXELS = 89_478_485  # Pillow's default bomb guard, stated: a bomb is one unreadable image

EVAL_IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")
SIDE = 32  # the grey thumbnail the DCT is taken of
CORPUS_DRAFT = 64  # corpus JPEGs are decoded at the smallest DCT scale still >= this on both sides
EVAL_DRAFT = 128  # evaluation images a little larger: their crops are cut before averaging down
FLAT_STD = 2.0  # grey levels (0-255) of the 32 x 32 thumbnail: below it an image has no usable hash
MATCHES_PER_SAMPLE = 10  # evaluation images kept per corpus sample (the closest), for the report
REASON = "eval_overlap"


# -------------------------------------------------------------------------------------------- the hash
def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    x = np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * x + 1) * k / (2 * n)) * np.sqrt(2 / n)
    m[0] /= np.sqrt(2)
    return m.astype(np.float32)


_DCT = _dct_matrix(SIDE)
# Frequencies (u, v) in order of u + v (then u): index 0 is the DC term, left out of both hashes.
_ORDER = sorted(((u, v) for u in range(SIDE) for v in range(SIDE)), key=lambda p: (p[0] + p[1], p[0]))
_LOW64 = np.array([u * SIDE + v for u, v in _ORDER[1:65]])
_LOW256 = np.array([u * SIDE + v for u, v in _ORDER[1:257]])


def popcount(x: np.ndarray) -> np.ndarray:
    """Set bits of each element of a uint64 array (uint8 counts)."""
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        return np.bitwise_count(x)
    as_bytes = np.ascontiguousarray(x).view(np.uint8).reshape(x.shape + (8,))
    return _BYTE_BITS[as_bytes].sum(axis=-1, dtype=np.uint8)


_BYTE_BITS = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _popcount_into(x: np.ndarray, out: np.ndarray) -> None:
    if hasattr(np, "bitwise_count"):
        np.bitwise_count(x, out=out)
    else:
        out[...] = popcount(x)


def _pack(bits: np.ndarray) -> np.ndarray:
    """(n, 64k) booleans -> (n, k) uint64."""
    return np.ascontiguousarray(np.packbits(bits, axis=1)).view(np.uint64)


def hashes(thumbs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(h64 (n,) uint64, h256 (n, 4) uint64, flat (n,) bool) of (n, 32, 32) grey thumbnails."""
    thumbs = np.asarray(thumbs, dtype=np.float32).reshape(-1, SIDE, SIDE)
    coefficients = (_DCT @ thumbs @ _DCT.T).reshape(len(thumbs), SIDE * SIDE)
    low64, low256 = coefficients[:, _LOW64], coefficients[:, _LOW256]
    h64 = _pack(low64 > np.median(low64, axis=1, keepdims=True))[:, 0]
    h256 = _pack(low256 > np.median(low256, axis=1, keepdims=True))
    flat = thumbs.reshape(len(thumbs), -1).std(axis=1) < FLAT_STD
    return h64, h256, flat


def grey(source: bytes | str, draft: int) -> Image.Image:
    """A grey image of file bytes or a path: JPEGs decoded at the smallest DCT scale still >= draft px on both
    sides, other formats reduced by an integer factor towards 2 x draft; EXIF orientation applied, transparency
    composited on white."""
    img = Image.open(io.BytesIO(source) if isinstance(source, (bytes, bytearray, memoryview)) else source)
    if img.format == "JPEG":
        img.draft("L", (draft, draft))
    img = ImageOps.exif_transpose(img)
    factor = min(img.size) // (2 * draft)
    if factor > 1:
        img = img.reduce(factor)
    if img.mode in ("RGBA", "LA", "PA", "P") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return img.convert("L")


def views(width: int, height: int, crops: Iterable[float] = CROPS) -> list[tuple[str, tuple]]:
    """(name, box) of the views an evaluation image is indexed as: the whole image, then for each crop
    fraction c the 3 x 3 grid of crops keeping 1 - c of each side, at offsets 0, c/2 and c."""
    out = [("whole", (0.0, 0.0, float(width), float(height)))]
    for c in crops:
        for fy, row in ((0.0, "top"), (0.5, "middle"), (1.0, "bottom")):
            for fx, col in ((0.0, "left"), (0.5, "centre"), (1.0, "right")):
                x0, y0 = c * width * fx, c * height * fy
                out.append((f"crop {100 * c:g}% {row} {col}", (x0, y0, x0 + (1 - c) * width, y0 + (1 - c) * height)))
    return out


def thumbnail(img: Image.Image, box: tuple | None = None) -> np.ndarray:
    return np.asarray(img.resize((SIDE, SIDE), Image.Resampling.BOX, box=box), dtype=np.float32)


def image_hashes(source: bytes | str, crops: Iterable[float] = ()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The hashes of one image: of the whole image when `crops` is empty (a corpus image), else of each of its
    views (an evaluation image). Raises on an unreadable image (any Pillow or OS error)."""
    crops = tuple(crops)
    img = grey(source, EVAL_DRAFT if crops else CORPUS_DRAFT)
    if not crops:
        return hashes(thumbnail(img)[None])
    return hashes(np.stack([thumbnail(img, box) for _, box in views(*img.size, crops)]))


# ----------------------------------------------------------------------------------- the evaluation index
@dataclass
class EvalIndex:
    """The hashes of every view of every readable, non-flat evaluation image."""

    sets: list[str]  # evaluation set names (folder names), in --against order
    folders: list[str]  # the folder of each set, as given
    files: list[str]  # every image file found (a path under its folder)
    file_set: np.ndarray  # (files,) set index of each file
    crops: tuple
    view_names: list[str]
    h64: np.ndarray = field(repr=False)  # (V,) uint64
    h256: np.ndarray = field(repr=False)  # (V, 4) uint64
    owner: np.ndarray = field(repr=False)  # (V,) int32: the file of each view
    view: np.ndarray = field(repr=False)  # (V,) int16: which view
    skipped: dict = field(default_factory=dict)  # file index -> why it is not indexed ("flat", or the error)
    seconds: float = 0.0

    def __len__(self) -> int:
        return len(self.h64)

    def match(self, q64: np.ndarray, q256: np.ndarray, max_distance: int = MAX_DISTANCE,
              per_sample: int = MATCHES_PER_SAMPLE) -> list[list[tuple[int, int, int, int]]]:
        """For each query hash: [(file, distance, distance64, view), ...], the closest view of each evaluation
        image within max_distance (256-bit Hamming), closest first, at most per_sample. Vectorised in blocks:
        the 64-bit hashes pre-filter (prefilter(max_distance)), the 256-bit ones decide."""
        n = len(q64)
        out: list[list] = [[] for _ in range(n)]
        if not n or not len(self):
            return out
        limit = prefilter(max_distance)
        hits = []
        # Blocks small enough to stay in cache, buffers reused: about 1.5 ns per (query, view) pair on one core.
        xor = np.empty((_QUERY_BLOCK, _INDEX_BLOCK), dtype=np.uint64)
        bits = np.empty((_QUERY_BLOCK, _INDEX_BLOCK), dtype=np.uint8)
        near = np.empty((_QUERY_BLOCK, _INDEX_BLOCK), dtype=bool)
        for qs in range(0, n, _QUERY_BLOCK):
            a64 = q64[qs:qs + _QUERY_BLOCK, None]
            for vs in range(0, len(self), _INDEX_BLOCK):
                b64 = self.h64[None, vs:vs + _INDEX_BLOCK]
                shape = (len(a64), b64.shape[1])
                x, d64, close = xor[:shape[0], :shape[1]], bits[:shape[0], :shape[1]], near[:shape[0], :shape[1]]
                np.bitwise_xor(a64, b64, out=x)
                _popcount_into(x, d64)
                np.less_equal(d64, limit, out=close)
                flat = np.flatnonzero(close)
                if not flat.size:
                    continue
                qi, vi = np.divmod(flat, shape[1])
                d256 = popcount(q256[qs + qi] ^ self.h256[vs + vi]).sum(axis=1, dtype=np.int32)
                keep = d256 <= max_distance
                if keep.any():
                    qi, vi = qi[keep], vi[keep]
                    hits.append(np.stack([qs + qi, self.owner[vs + vi], d256[keep], d64[qi, vi].astype(np.int32),
                                          self.view[vs + vi].astype(np.int32)], axis=1))
        if not hits:
            return out
        h = np.concatenate(hits)
        h = h[np.lexsort((h[:, 4], h[:, 3], h[:, 2], h[:, 1], h[:, 0]))]  # by query, file, then distance
        first = np.ones(len(h), dtype=bool)
        first[1:] = (h[1:, 0] != h[:-1, 0]) | (h[1:, 1] != h[:-1, 1])
        h = h[first]  # the closest view of each (query, file)
        h = h[np.lexsort((h[:, 1], h[:, 2], h[:, 0]))]  # by query, then distance
        for q, f, d, d64, v in h.tolist():
            if len(out[q]) < per_sample:
                out[q].append((f, d, d64, v))
        return out


_QUERY_BLOCK = 128
_INDEX_BLOCK = 4096


def prefilter(max_distance: int) -> int:
    """The 64-bit distance beyond which a pair is not compared further (20 at the default 60). Copies measured
    at 256-bit distance d had a 64-bit distance of about d / 5 or less (at most 10 at d <= 60, 16 at d <= 90)."""
    return min(64, 8 + max_distance // 5)


def eval_files(folder: str) -> list[str]:
    """The image files under an evaluation folder, recursively, in sorted order."""
    if not os.path.isdir(folder):
        raise ValueError(f"{folder}: no such folder (--against takes folders of evaluation images)")
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        found += [os.path.join(root, f) for f in sorted(files) if f.lower().endswith(EVAL_IMAGE_EXTS)]
    if not found:
        raise ValueError(f"{folder}: no images ({' '.join(EVAL_IMAGE_EXTS)}) in it or its sub-folders")
    return found


def set_names(folders: Iterable[str]) -> list[str]:
    """Each folder's name; a name taken twice is the folder as given instead."""
    folders = list(folders)
    base = [os.path.basename(os.path.normpath(f)) or f for f in folders]
    counts = Counter(base)
    return [b if counts[b] == 1 else os.path.normpath(f) for b, f in zip(base, folders)]


def _hash_eval_chunk(task: tuple[int, list[str], tuple]) -> tuple[int, list]:
    start, paths, crops = task
    out = []
    for path in paths:
        try:
            h64, h256, flat = image_hashes(path, crops)
            out.append(("flat", None, None) if flat[0] else (None, h64, h256))
        except Exception as e:  # noqa: BLE001 - any decoder error is one unreadable image
            out.append((f"unreadable: {type(e).__name__}: {e}", None, None))
    return start, out


def build_index(folders: Iterable[str], crops: Iterable[float] = CROPS, workers: int = 1) -> EvalIndex:
    """Hash every image under each folder (one evaluation set per folder), on `workers` processes. Raises
    ValueError naming the folder when one is missing, given twice, holds no images, or none of them could be
    read."""
    started = time.monotonic()
    folders, crops = list(folders), tuple(crops)
    seen: dict[str, str] = {}
    for f in folders:
        if os.path.realpath(f) in seen:
            raise ValueError(f"{f}: given twice to --against (as {seen[os.path.realpath(f)]})")
        seen[os.path.realpath(f)] = f
    per_folder = [eval_files(f) for f in folders]  # every folder checked before any work
    files = [p for paths in per_folder for p in paths]
    file_set = np.concatenate([np.full(len(p), i, dtype=np.int16) for i, p in enumerate(per_folder)])
    chunk = 64
    tasks = [(s, files[s:s + chunk], crops) for s in range(0, len(files), chunk)]
    pool = start_pool(min(workers or os.cpu_count() or 1, len(tasks)))
    try:
        results = dict(_map(_hash_eval_chunk, tasks, pool))
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    h64, h256, owner, skipped = [], [], [], {}
    for s, _, _ in tasks:
        for i, (why, a, b) in enumerate(results[s], start=s):
            if why:
                skipped[i] = why
            else:
                h64.append(a)
                h256.append(b)
                owner.append(np.full(len(a), i, dtype=np.int32))
    for k, folder in enumerate(folders):
        mine = [i for i in range(len(files)) if file_set[i] == k]
        if all(i in skipped for i in mine):
            why = Counter(skipped[i].split(":")[0] for i in mine).most_common(1)[0][0]
            raise ValueError(f"{folder}: none of its {len(mine)} images could be hashed (all {why})")
    names = [name for name, _ in views(1, 1, crops)]
    n_views = len(names)
    return EvalIndex(
        sets=set_names(folders), folders=folders, files=files, file_set=file_set, crops=crops, view_names=names,
        h64=np.concatenate(h64), h256=np.concatenate(h256), owner=np.concatenate(owner),
        view=np.tile(np.arange(n_views, dtype=np.int16), len(h64)), skipped=skipped,
        seconds=time.monotonic() - started)


# ----------------------------------------------------------------------------------------- the corpus scan
@dataclass
class ShardScan:
    shard: str  # the shard's name (00000)
    samples: int = 0
    no_image: int = 0  # samples without an image member
    unreadable: int = 0  # images Pillow could not decode
    flat: int = 0  # images without a usable hash
    matches: list = field(default_factory=list)  # (key, [(file, distance, distance64, view), ...])
    images: dict = field(default_factory=dict)  # key -> image bytes of matched samples (keep_images)
    errors: list = field(default_factory=list)  # (key, message) of the first unreadable images
    cpu_s: float = 0.0  # CPU time of the whole shard in its process (reading, decoding, hashing, matching)
    match_cpu_s: float = 0.0  # of which the lookup in the index


_WORKER: dict = {}


def _init_worker(index: EvalIndex, max_distance: int, keep_images: bool) -> None:
    _WORKER.update(index=index, max_distance=max_distance, keep_images=keep_images)


def _scan_shard(shard: Shard) -> ShardScan:
    index, max_distance, keep = _WORKER["index"], _WORKER["max_distance"], _WORKER["keep_images"]
    started = time.process_time()
    scan = ShardScan(shard.name)
    keys, images, h64, h256 = [], [], [], []
    for key, members in iter_samples(shard.url):
        scan.samples += 1
        data = image_of(members_by_ext(members))
        if data is None:
            scan.no_image += 1
            continue
        try:
            a, b, flat = image_hashes(data)
        except Exception as e:  # noqa: BLE001 - any decoder error is one unreadable image
            scan.unreadable += 1
            if len(scan.errors) < 5:
                scan.errors.append((key, f"{type(e).__name__}: {e}"))
            continue
        if flat[0]:
            scan.flat += 1
            continue
        keys.append(key)
        images.append(data if keep else None)
        h64.append(a)
        h256.append(b)
    if keys:
        matching = time.process_time()
        found = index.match(np.concatenate(h64), np.concatenate(h256), max_distance)
        scan.match_cpu_s = time.process_time() - matching
        for key, data, hits in zip(keys, images, found):
            if hits:
                scan.matches.append((key, hits))
                if keep:
                    scan.images[key] = data
    scan.cpu_s = time.process_time() - started
    return scan


def _map(fn: Callable, tasks: list, pool) -> Iterable:
    return pool.imap(fn, tasks) if pool is not None else map(fn, tasks)


def start_pool(workers: int, initializer=None, initargs=()):
    """A process pool (fork where the platform has it), or None for one worker (work runs in this process)."""
    workers = workers or os.cpu_count() or 1
    if workers <= 1:
        if initializer:
            initializer(*initargs)
        return None
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    return context.Pool(workers, initializer=initializer, initargs=initargs)


@dataclass
class Found:
    """What a decontamination run found."""

    corpus: str
    index: EvalIndex
    max_distance: int
    shards: list[ShardScan]
    seconds: dict
    workers: int
    similarity_checked: bool = False
    min_similarity: float | None = None

    def matches(self) -> list[dict]:
        """Every (corpus sample, evaluation image) pair within the distance, in shard and key order."""
        out = []
        for scan in self.shards:
            for key, hits in scan.matches:
                for hit in hits:
                    f, d, d64, v = hit[:4]
                    row = {"key": key, "shard": scan.shard, "eval_set": self.index.sets[self.index.file_set[f]],
                           "eval_file": self.index.files[f], "distance": d, "distance_64": d64,
                           "view": self.index.view_names[v]}
                    if len(hit) > 4:  # NaN: an image the model's loader could not read; it cannot disagree
                        row["similarity"] = None if hit[4] != hit[4] else round(hit[4], 4)
                        row["confirmed"] = self.min_similarity is None or not hit[4] < self.min_similarity
                    out.append(row)
        return out

    def counted(self) -> list[dict]:
        return [m for m in self.matches() if m.get("confirmed", True)]

    def drops(self) -> dict[str, tuple[str, str]]:
        """{key: ("eval_overlap", message)} of every matched sample: the closest evaluation image named."""
        out = {}
        for m in self.counted():  # closest first within a sample
            if m["key"] not in out:
                out[m["key"]] = (REASON, f"near-duplicate of {m['eval_set']} image {m['eval_file']} "
                                         f"(hash distance {m['distance']})")
        return out

    def totals(self) -> dict:
        t = Counter()
        for s in self.shards:
            t.update(samples=s.samples, no_image=s.no_image, unreadable=s.unreadable, flat=s.flat)
        t["shards"] = len(self.shards)
        t["matched_samples"] = len({m["key"] for m in self.counted()})
        t["compared"] = t["samples"] - t["no_image"] - t["unreadable"] - t["flat"]
        return {k: t[k] for k in ("shards", "samples", "compared", "no_image", "unreadable", "flat",
                                  "matched_samples")}

    def per_set(self) -> dict[str, dict]:
        index = self.index
        counted = self.counted()
        out = {}
        for k, name in enumerate(index.sets):
            mine = np.flatnonzero(index.file_set == k)
            why = Counter(index.skipped[i].split(":")[0] for i in mine if i in index.skipped)
            hits = [m for m in counted if m["eval_set"] == name]
            out[name] = {"folder": index.folders[k], "eval_images": len(mine),
                         "indexed": len(mine) - sum(why.values()), "flat": why.get("flat", 0),
                         "unreadable": why.get("unreadable", 0),
                         "corpus_samples_matched": len({m["key"] for m in hits}),
                         "eval_images_found": len({m["eval_file"] for m in hits})}
        return out

    def report(self) -> dict:
        """The JSON report: settings, totals, per-set counts, every match, the evaluation images not indexed."""
        return {
            "corpus": self.corpus,
            "settings": {"max_distance": self.max_distance, "prefilter_64": prefilter(self.max_distance),
                         "crops": list(self.index.crops), "views_per_eval_image": len(self.index.view_names),
                         "hash": "DCT of 32x32 grey: 256 lowest frequencies vs their median (64-bit pHash "
                                 "pre-filter)", "min_similarity": self.min_similarity},
            "totals": self.totals(),
            "sets": self.per_set(),
            "seconds": self.seconds,
            "matches": self.matches(),
            "eval_images_skipped": [{"file": self.index.files[i], "reason": why}
                                    for i, why in sorted(self.index.skipped.items())],
            "corpus_images_unreadable": [{"shard": s.shard, "key": k, "error": e} for s in self.shards
                                         for k, e in s.errors],
        }


def scan(options: DecontaminateOptions, progress: Callable[[int, int], None] | None = None,
         keep_images: bool = False) -> Found:
    """Index the evaluation folders, then scan every shard of the corpus. keep_images: also keep the image bytes
    of the matched corpus samples (for the HTML page and embeddings)."""
    shards = find_shards(options.corpus)  # a missing corpus fails before any hashing
    workers = options.workers or os.cpu_count() or 1
    started = time.monotonic()
    index = build_index(options.against, options.crops, workers)
    indexed = time.monotonic()
    scans = []
    pool = start_pool(min(workers, len(shards)), _init_worker, (index, options.max_distance, keep_images))
    try:
        for done, result in enumerate(_map(_scan_shard, shards, pool), start=1):
            scans.append(result)
            if progress:
                progress(done, len(shards))
    finally:
        _WORKER.clear()  # the index, when the work ran in this process
        if pool is not None:
            pool.close()
            pool.join()
    ended = time.monotonic()
    samples = sum(s.samples for s in scans)
    per_image = 1000 / max(samples, 1)
    seconds = {"index": round(indexed - started, 3), "scan": round(ended - indexed, 3),
               "ms_per_corpus_image": round(per_image * (ended - indexed), 3),
               "cpu_ms_per_corpus_image": round(per_image * sum(s.cpu_s for s in scans), 3),
               "match_cpu_ms_per_corpus_image": round(per_image * sum(s.match_cpu_s for s in scans), 4)}
    return Found(options.corpus, index, options.max_distance, scans, seconds, workers)


def clean_in_place(shards_folder: str, against: Iterable[str], max_distance: int = MAX_DISTANCE) -> dict:
    """`wit build --against`: drop the near-duplicates of the evaluation images from a build's own shards, in
    place (rewrite.drop_in_place). A summary: matched samples per evaluation set and the drops."""
    from wit_pipeline.curate.rewrite import drop_in_place

    found = scan(DecontaminateOptions(corpus=shards_folder, against=tuple(against), max_distance=max_distance))
    by_shard: dict[str, dict] = {}
    drops = found.drops()
    for m in found.counted():
        if m["key"] in drops:
            by_shard.setdefault(m["shard"], {})[m["key"]] = drops[m["key"]]
    return {"against": list(against), "max_distance": max_distance, "dropped": drop_in_place(shards_folder, by_shard),
            "sets": {name: {k: v for k, v in s.items() if k != "folder"} for name, s in found.per_set().items()}}


# ------------------------------------------------------------------------------- the embedding second opinion
def check_embeddings(found: Found, checkpoint: str, min_similarity: float | None = None, device: str | None = None,
                     batch_size: int = 128) -> None:
    """Add the cosine similarity of the checkpoint's image embeddings to every match (needs the corpus images:
    scan(keep_images=True)); with min_similarity, a match below it is no longer counted (nor dropped)."""
    from wit_pipeline.train import evaluate as ev  # torch: only here

    started = time.monotonic()
    model = ev.load(checkpoint, device)
    size = model.config.vision.image_size
    keys = sorted({key for s in found.shards for key, _ in s.matches})
    data = {key: img for s in found.shards for key, img in s.images.items()}
    files = sorted({hit[0] for s in found.shards for _, hits in s.matches for hit in hits})

    def embed(sources):
        images, ok = ev.load_images(sources, size)
        vectors = ev.encode_images(model, images, batch_size) if images else None
        return {i: vectors[j] for j, i in enumerate(ok)}

    corpus_vectors = embed([data[k] for k in keys])
    eval_vectors = embed([found.index.files[f] for f in files])
    corpus_at = {k: corpus_vectors.get(i) for i, k in enumerate(keys)}
    eval_at = {f: eval_vectors.get(i) for i, f in enumerate(files)}
    for s in found.shards:
        for n, (key, hits) in enumerate(s.matches):
            checked = []
            for hit in hits:
                a, b = corpus_at.get(key), eval_at.get(hit[0])
                similarity = float((a * b).sum()) if a is not None and b is not None else float("nan")
                checked.append((*hit[:4], similarity))
            s.matches[n] = (key, checked)
    found.similarity_checked, found.min_similarity = True, min_similarity
    found.seconds["embeddings"] = round(time.monotonic() - started, 3)
