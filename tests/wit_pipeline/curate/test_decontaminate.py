"""`wit decontaminate`: copies of evaluation images (resized, recompressed, cropped, brightness- or colour-shifted)
are found in real WebDataset shards, different photos and flat images are not, the report, the HTML page and the
clean corpus say so, and bad input is one line naming the path. Pictures are made here (smooth random colour
fields with shapes: structure at several scales, like photos); a few real Flickr8k photos are used when
../shared/data is present. No timings are checked."""
from __future__ import annotations

import glob
import io
import json
import os
import tarfile

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image, ImageDraw, ImageEnhance

from wit_pipeline.cli import main
from wit_pipeline.curate import decontaminate as dc
from wit_pipeline.curate.decontaminate_options import MAX_DISTANCE, DecontaminateOptions

FLICKR = os.path.join(os.path.dirname(os.path.abspath(__file__)), *[os.pardir] * 4, "shared", "data", "flickr8k")


def photo(seed: int, size=(192, 144)) -> Image.Image:
    rng = np.random.default_rng(seed)
    w, h = size
    base = Image.fromarray(rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)).resize(size, Image.Resampling.BICUBIC)
    detail = Image.fromarray(rng.integers(0, 256, (18, 24, 3), dtype=np.uint8)).resize(size, Image.Resampling.BICUBIC)
    img = Image.blend(base, detail, 0.35)
    draw = ImageDraw.Draw(img)
    for _ in range(6):
        x, y, r = int(rng.integers(0, w)), int(rng.integers(0, h)), int(rng.integers(8, 40))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x - r, y - r, x + r, y + r), fill=colour)
    return img


def jpeg(img: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def cropped(img: Image.Image, fraction: float, fx: float, fy: float) -> Image.Image:
    """Keep 1 - fraction of each side, the window at (fx, fy) of the free margin."""
    w, h = img.size
    x0, y0 = round(fraction * w * fx), round(fraction * h * fy)
    return img.crop((x0, y0, x0 + round((1 - fraction) * w), y0 + round((1 - fraction) * h)))


TRANSFORMS = {
    "identical": lambda im: jpeg(im),
    "smaller": lambda im: jpeg(im.resize((115, 86), Image.Resampling.BICUBIC)),
    "larger": lambda im: jpeg(im.resize((384, 288), Image.Resampling.BICUBIC)),
    "squashed": lambda im: jpeg(im.resize((160, 160), Image.Resampling.BICUBIC)),
    "jpeg_q60": lambda im: jpeg(im, 60),
    "jpeg_q30": lambda im: jpeg(im, 30),
    "crop_5pct_corner": lambda im: jpeg(cropped(im, 0.05, 1.0, 0.0)),
    "crop_5pct_centre": lambda im: jpeg(cropped(im, 0.05, 0.5, 0.5)),
    "crop_5pct_off_grid": lambda im: jpeg(cropped(im, 0.05, 0.25, 0.75)),
    "crop_8pct": lambda im: jpeg(cropped(im, 0.08, 0.3, 0.6)),
    "brighter": lambda im: jpeg(ImageEnhance.Brightness(im).enhance(1.3)),
    "darker": lambda im: jpeg(ImageEnhance.Brightness(im).enhance(0.7)),
    "plus_40": lambda im: jpeg(im.point(lambda v: min(255, v + 40))),
    "more_colour": lambda im: jpeg(ImageEnhance.Color(im).enhance(1.5)),
    "less_contrast": lambda im: jpeg(ImageEnhance.Contrast(im).enhance(0.7)),
    "grey": lambda im: jpeg(im.convert("L")),
    "png": lambda im: _png(im),
    "all_at_once": lambda im: jpeg(ImageEnhance.Color(ImageEnhance.Brightness(
        cropped(im, 0.05, 0.8, 0.3)).enhance(1.25)).enhance(1.3).resize((260, 185), Image.Resampling.BICUBIC), 60),
}


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def eval_folder(folder, seeds, name_prefix="e") -> str:
    os.makedirs(folder, exist_ok=True)
    for s in seeds:
        with open(os.path.join(folder, f"{name_prefix}{s}.jpg"), "wb") as f:
            f.write(jpeg(photo(s), 92))
    return str(folder)


def write_corpus(folder, samples: list, per_shard: int = 10) -> list[str]:
    """WebDataset shards of (image bytes or None, caption) in the downloader's layout; returns the keys."""
    os.makedirs(folder, exist_ok=True)
    keys = []
    for s in range(0, len(samples), per_shard):
        name = f"{s // per_shard:05d}"
        with tarfile.open(os.path.join(folder, f"{name}.tar"), "w") as tar:
            for i, (image, caption) in enumerate(samples[s:s + per_shard]):
                key = f"{name}{i:04d}"
                keys.append(key)
                members = {"txt": caption.encode(), "json": json.dumps({"key": key}).encode()}
                if image is not None:
                    members["jpg"] = image
                for ext in sorted(members):
                    info = tarfile.TarInfo(f"{key}.{ext}")
                    info.size = len(members[ext])
                    tar.addfile(info, io.BytesIO(members[ext]))
    return keys


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    return dc.build_index([eval_folder(tmp_path_factory.mktemp("eval") / "set", range(100, 112))])


def closest(index, data: bytes):
    h64, h256, flat = dc.image_hashes(data)
    assert not flat[0]
    hits = index.match(h64, h256)[0]
    return [(os.path.basename(index.files[f]), d) for f, d, *_ in hits]


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_each_transformation_of_an_evaluation_image_is_found(index, name):
    for seed in (103, 108):
        hits = closest(index, TRANSFORMS[name](photo(seed)))
        assert hits and hits[0][0] == f"e{seed}.jpg", (name, seed, hits)
        assert hits[0][1] <= MAX_DISTANCE
        assert all(f == f"e{seed}.jpg" for f, _ in hits)  # and nothing else


def test_different_photos_and_flat_images_match_nothing(index):
    for seed in range(500, 560):
        assert closest(index, jpeg(photo(seed))) == []
    for colour in ((128, 128, 128), (255, 255, 255)):
        _, _, flat = dc.image_hashes(jpeg(Image.new("RGB", (100, 80), colour)))
        assert flat[0]


def test_views_cover_the_whole_image_and_each_crop_grid():
    names = [n for n, _ in dc.views(200, 100, (0.05, 0.1))]
    assert len(names) == 19 and names[0] == "whole"
    boxes = dict(dc.views(200, 100, (0.1,)))
    assert boxes["crop 10% bottom right"] == pytest.approx((20, 10, 200, 100))
    assert boxes["crop 10% top left"] == pytest.approx((0, 0, 180, 90))


def test_popcount_without_numpys_bitwise_count(monkeypatch):
    x = np.random.default_rng(0).integers(0, 2**63, (7, 4), dtype=np.uint64) * 2 + 1
    expected = np.array([[bin(int(v)).count("1") for v in row] for row in x])
    assert (dc.popcount(x) == expected).all()
    monkeypatch.delattr(np, "bitwise_count", raising=False)
    assert (dc.popcount(x) == expected).all()


@pytest.fixture
def contaminated(tmp_path):
    """Two evaluation sets and a corpus of 3 shards: 24 other photos, 3 copies of `alpha` images, 1 of a `beta`
    image, a sample without an image and one whose image is not decodable."""
    alpha = eval_folder(tmp_path / "evals" / "alpha", range(10, 16))
    beta = eval_folder(tmp_path / "evals" / "beta", range(20, 24))
    samples = [(jpeg(photo(1000 + i)), f"other {i}") for i in range(24)]
    copies = {3: TRANSFORMS["all_at_once"](photo(11)), 9: TRANSFORMS["crop_5pct_corner"](photo(14)),
              15: TRANSFORMS["jpeg_q60"](photo(14)), 21: TRANSFORMS["brighter"](photo(22))}
    for at, data in sorted(copies.items()):
        samples.insert(at, (data, "a copy"))
    samples.insert(5, (None, "no image"))
    samples.insert(7, (b"\xff\xd8 not really a jpeg", "broken"))
    keys = write_corpus(tmp_path / "corpus" / "shards", samples)
    copy_keys = {keys[i] for i, (_, caption) in enumerate(samples) if caption == "a copy"}
    return {"root": tmp_path, "corpus": str(tmp_path / "corpus"), "alpha": alpha, "beta": beta, "keys": keys,
            "copies": copy_keys}


def test_cli_reports_per_set_and_writes_a_corpus_without_the_copies(contaminated, capsys):
    c, root = contaminated, contaminated["root"]
    report, page, clean = root / "r.json", root / "r.html", root / "clean"
    assert main(["decontaminate", c["corpus"], "--against", c["alpha"], c["beta"], "--report", str(report),
                 "--html", str(page), "--output", str(clean), "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "alpha" in out and "beta" in out and "matched corpus samples: 4" in out

    r = json.loads(report.read_text())
    assert {m["key"] for m in r["matches"]} == c["copies"]
    assert r["totals"] == {"shards": 3, "samples": 30, "compared": 28, "no_image": 1, "unreadable": 1, "flat": 0,
                           "matched_samples": 4}
    assert r["sets"]["alpha"]["eval_images"] == 6 and r["sets"]["alpha"]["eval_images_found"] == 2
    assert r["sets"]["alpha"]["corpus_samples_matched"] == 3
    assert r["sets"]["beta"]["eval_images_found"] == 1 and r["sets"]["beta"]["corpus_samples_matched"] == 1
    by_key = {m["key"]: m for m in r["matches"]}
    assert {os.path.basename(m["eval_file"]) for m in by_key.values()} == {"e11.jpg", "e14.jpg", "e22.jpg"}
    assert all(m["distance"] <= MAX_DISTANCE and m["eval_set"] in ("alpha", "beta") for m in r["matches"])
    assert r["corpus_images_unreadable"][0]["key"] in c["keys"]

    html = page.read_text()
    assert html.count("<img") == 2 * len(r["matches"]) and "e14.jpg" in html and "data:image/jpeg;base64," in html

    sizes = json.loads((clean / "sizes.json").read_text())
    assert sum(sizes.values()) == 30 - 4  # every sample but the copies (the rewrite keeps what is not dropped)
    kept = set()
    for tar_path in glob.glob(str(clean / "*.tar")):
        with tarfile.open(tar_path) as tar:
            kept |= {m.name.split(".")[0] for m in tar.getmembers()}
    assert not kept & c["copies"]
    rows = [row for p in sorted(glob.glob(str(clean / "*.parquet"))) for row in pq.read_table(p).to_pylist()]
    dropped = {row["key"]: row for row in rows if row["status"] == dc.REASON}
    assert set(dropped) == c["copies"]
    assert "e14.jpg" in dropped[sorted(c["copies"])[1]]["error_message"]


def test_filter_against_drops_the_copies_with_or_without_scores(contaminated, capsys):
    """`wit filter --against`: the copies go with reason eval_overlap, whatever their CLIP score; with --min-score
    the low scorers go too, with theirs. Without a score option no scores files are needed."""
    import sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from curate_helpers import write_scores

    c, root = contaminated, contaminated["root"]
    assert main(["filter", c["corpus"], "--output", str(root / "only"), "--against", c["alpha"], c["beta"]]) == 0
    rows = [r for p in sorted(glob.glob(str(root / "only" / "*.parquet"))) for r in pq.read_table(p).to_pylist()]
    assert {r["key"] for r in rows if r["status"] == dc.REASON} == c["copies"]
    assert {r["status"] for r in rows} == {"success", dc.REASON}
    kept_before = {r["key"] for r in rows if r["status"] == "success"}

    low = {k for k in c["keys"] if k not in c["copies"]}
    low = set(sorted(low)[:5])
    for tar in sorted(glob.glob(os.path.join(c["corpus"], "shards", "*.tar"))):
        with tarfile.open(tar) as t:
            keys = sorted({m.name.split(".")[0] for m in t.getmembers()})
        # the copies score high: they are dropped as copies, not for their score
        write_scores(tar, {k: 0.1 if k in low else 0.9 for k in keys})
    assert main(["filter", c["corpus"], "--output", str(root / "both"), "--min-score", "0.5", "--against",
                 c["alpha"], c["beta"]]) == 0
    rows = [r for p in sorted(glob.glob(str(root / "both" / "*.parquet"))) for r in pq.read_table(p).to_pylist()]
    by_status = {}
    for r in rows:
        by_status.setdefault(r["status"], set()).add(r["key"])
    assert by_status[dc.REASON] == c["copies"]
    assert by_status["low_clip_score"] == low & kept_before and by_status["low_clip_score"]
    # a re-run with another evaluation set is refused: the output records what made it
    capsys.readouterr()
    assert main(["filter", c["corpus"], "--output", str(root / "both"), "--min-score", "0.5", "--against",
                 c["alpha"]]) == 2
    err = capsys.readouterr().err
    assert "was made from other inputs or options (against" in err and len(err.strip().splitlines()) == 1


def test_fail_on_match_and_a_clean_corpus(contaminated, capsys):
    c = contaminated
    assert main(["decontaminate", c["corpus"], "--against", c["alpha"], "--fail-on-match", "--workers", "1"]) == 1
    clean = c["root"] / "other"
    write_corpus(clean, [(jpeg(photo(3000 + i)), "x") for i in range(6)])
    assert main(["decontaminate", str(clean), "--against", c["alpha"], c["beta"], "--fail-on-match"]) == 0
    assert "matched corpus samples: 0" in capsys.readouterr().out


def test_processes_give_the_same_report(contaminated):
    options = dict(corpus=contaminated["corpus"], against=(contaminated["alpha"], contaminated["beta"]))
    one = dc.scan(DecontaminateOptions(workers=1, **options))
    two = dc.scan(DecontaminateOptions(workers=2, **options))
    assert one.matches() == two.matches() and one.totals() == two.totals() and one.per_set() == two.per_set()
    assert one.drops() == two.drops() and len(one.drops()) == 4


def test_unreadable_evaluation_images_are_listed_not_fatal(contaminated):
    with open(os.path.join(contaminated["alpha"], "broken.jpg"), "wb") as f:
        f.write(b"not an image")
    found = dc.scan(DecontaminateOptions(corpus=contaminated["corpus"], against=(contaminated["alpha"],),
                                         workers=1))
    assert found.per_set()["alpha"]["unreadable"] == 1 and found.per_set()["alpha"]["indexed"] == 6
    assert [os.path.basename(s["file"]) for s in found.report()["eval_images_skipped"]] == ["broken.jpg"]


@pytest.mark.parametrize("case", ["missing_eval_dir", "eval_dir_without_images", "eval_images_all_unreadable",
                                  "eval_dir_twice",
                                  "not_a_corpus", "missing_corpus", "no_against", "damaged_shard",
                                  "bad_crop", "report_folder_missing"])
def test_bad_input_is_one_line_naming_the_path(contaminated, capsys, case):
    c, root = contaminated, contaminated["root"]
    corpus, against, extra = c["corpus"], [c["alpha"]], []
    if case == "missing_eval_dir":
        against = [str(root / "absent")]
        named = against[0]
    elif case == "eval_dir_without_images":
        os.makedirs(root / "empty")
        (root / "empty" / "notes.txt").write_text("no images here")
        against = [str(root / "empty")]
        named = against[0]
    elif case == "eval_images_all_unreadable":
        os.makedirs(root / "bad")
        (root / "bad" / "a.jpg").write_bytes(b"junk")
        against = [c["alpha"], str(root / "bad")]
        named = against[1]
    elif case == "eval_dir_twice":
        against = [c["alpha"], c["alpha"] + "/"]
        named = against[1]
    elif case == "not_a_corpus":
        os.makedirs(root / "plain")
        corpus = named = str(root / "plain")
    elif case == "missing_corpus":
        corpus = named = str(root / "nowhere")
    elif case == "no_against":
        against, named = [], "--against"
    elif case == "damaged_shard":
        tar = os.path.join(c["corpus"], "shards", "00001.tar")
        with open(tar, "r+b") as f:
            f.truncate(700)
        named = "00001.tar"
    elif case == "bad_crop":
        extra, named = ["--crops", "0.05,0.7"], "0.7"
    else:
        extra = ["--report", str(root / "no" / "such" / "r.json")]
        named = extra[1]
    argv = ["decontaminate", corpus, *(["--against", *against] if against else []), "--workers", "1", *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("wit decontaminate: error:") and len(err.splitlines()) == 1, err
    assert named in err, err


def test_embedding_similarity_is_a_second_opinion(contaminated):
    pytest.importorskip("torch")
    from curate_helpers import make_checkpoint

    c = contaminated
    ckpt = make_checkpoint(c["root"] / "tiny.pt", ["a photo", "a copy of a photo"])
    options = DecontaminateOptions(corpus=c["corpus"], against=(c["alpha"], c["beta"]), workers=1)
    found = dc.scan(options, keep_images=True)
    dc.check_embeddings(found, ckpt)
    similarities = [m["similarity"] for m in found.matches()]
    assert len(similarities) == 4 and all(-1 <= s <= 1.0001 for s in similarities)
    assert all(m["confirmed"] for m in found.matches()) and len(found.drops()) == 4  # no threshold: reported only

    threshold = sorted(similarities)[2]  # the two least similar pairs fall below it
    found = dc.scan(options, keep_images=True)
    dc.check_embeddings(found, ckpt, min_similarity=threshold)
    kept = {m["key"] for m in found.matches() if m["similarity"] >= threshold}
    assert set(found.drops()) == kept and found.totals()["matched_samples"] == len(kept) == 2
    assert [m["confirmed"] for m in found.matches()] == [m["similarity"] >= threshold for m in found.matches()]


@pytest.mark.skipif(not os.path.exists(os.path.join(FLICKR, "split.json")), reason="no ../shared/data/flickr8k")
def test_real_photos(tmp_path):
    split = json.load(open(os.path.join(FLICKR, "split.json")))
    test, train = sorted(split["test"])[:8], sorted(split["train"])[:24]
    small = os.path.join(FLICKR, "small_8k")
    folder = tmp_path / "test"
    os.makedirs(folder)
    for name in test:
        os.symlink(os.path.join(small, name), folder / name)
    samples = [(open(os.path.join(small, n), "rb").read(), n) for n in train]
    for n, how in zip(test[:3], ("all_at_once", "crop_5pct_off_grid", "smaller")):
        samples.append((TRANSFORMS[how](Image.open(os.path.join(small, n)).convert("RGB")), n))
    keys = write_corpus(tmp_path / "shards", samples)
    found = dc.scan(DecontaminateOptions(corpus=str(tmp_path / "shards"), against=(str(folder),), workers=1))
    matched = {m["key"]: os.path.basename(m["eval_file"]) for m in found.matches()}
    assert matched == {keys[i]: samples[i][1] for i in range(24, 27)}
