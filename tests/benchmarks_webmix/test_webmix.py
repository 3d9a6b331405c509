"""benchmarks/_webmix.py: the realistic web image mix of the download benchmark.

The source photos are made here (multi-scale texture JPEGs, about 320x240), so the test runs on any machine,
with or without ../shared/data/flickr8k/web_1k. No timings are checked.
"""
import importlib.util
import statistics
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


def _load_webmix():
    spec = importlib.util.spec_from_file_location("_webmix", ROOT / "benchmarks" / "_webmix.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["_webmix"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


webmix = _load_webmix()

COUNT = 40
SEED = 7


def _texture(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """A photo-like picture: noise at several scales (more energy at coarse ones), a few hard-edged blocks."""
    out = np.zeros((h, w, 3), np.float32)
    for cells, amp in ((4, 70.0), (12, 40.0), (40, 25.0), (w // 2, 14.0)):
        grid = rng.normal(0, amp, (max(2, cells * h // w), cells, 3)).astype(np.float32)
        layer = np.stack([np.asarray(Image.fromarray(grid[..., c]).resize((w, h), Image.Resampling.BICUBIC))
                          for c in range(3)], axis=-1)
        out += layer
    out += 128
    for _ in range(6):
        x0, y0 = rng.integers(0, w - 20), rng.integers(0, h - 20)
        out[y0:y0 + rng.integers(10, h // 2), x0:x0 + rng.integers(10, w // 2)] += rng.normal(0, 40, 3)
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8), "RGB")


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for i, (w, h) in enumerate([(320, 240), (320, 213), (240, 320), (320, 240), (300, 300), (320, 240)]):
        _texture(rng, w, h).save(folder / f"photo{i}.jpg", quality=90)
    (folder / "notes.txt").write_text("not a photo: ignored")
    return folder


@pytest.fixture(scope="module")
def mix(photos, tmp_path_factory):
    return webmix.build_mix(photos, tmp_path_factory.mktemp("cache"), count=COUNT, seed=SEED, quiet=True)


def _open_all(mix):
    return {name: Image.open(mix.folder / name) for name in mix.names}


def test_every_format_is_there_and_named_for_its_bytes(mix):
    images = _open_all(mix)
    assert len(images) == COUNT
    found = {im.format for im in images.values()}
    assert found == {"JPEG", "PNG", "WEBP", "GIF"}
    for name, im in images.items():
        ext = name.rsplit(".", 1)[1]
        assert im.format == {"jpg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF"}[ext], name
        w, h = (int(v) for v in name.split("_", 1)[1].split(".")[0].split("x"))
        assert im.size == (w, h), name
    jpeg_share = sum(im.format == "JPEG" for im in images.values()) / COUNT
    assert 0.7 <= jpeg_share <= 0.9
    desc = mix.description
    assert desc["images"] == COUNT and set(desc["formats"]) == {"jpg", "png", "webp", "gif"}
    assert desc["mean_bytes"] > 0 and desc["long_side_px"]["max"] >= 1000
    lines = webmix.summary_lines(desc)
    assert "JPEG" in lines[0] and "GIF" in lines[0] and "bytes mean" in lines[2]


def test_some_pngs_have_a_real_alpha_channel(mix):
    with_alpha = 0
    for im in _open_all(mix).values():
        if im.format != "PNG" or im.mode != "RGBA":
            continue
        alpha = np.asarray(im.getchannel("A"))
        transparent = (alpha < 255).mean()
        partial = ((alpha > 0) & (alpha < 255)).mean()
        if 0.05 < transparent < 0.95 and partial > 0.005:  # a cut-out with soft edges, not a flat 255 plane
            with_alpha += 1
    assert with_alpha >= 1


def test_large_images_are_large_and_keep_photo_detail(mix, photos):
    sources = [Image.open(p) for p in sorted(photos.glob("*.jpg"))]
    source_detail = statistics.median(webmix.detail(im) for im in sources)
    # The measure tells detail from smoothness: a 2x upscale of a source photo scores far lower.
    upscaled = statistics.median(webmix.detail(im.resize((im.width * 2, im.height * 2), Image.Resampling.BICUBIC))
                                 for im in sources)
    assert upscaled < 0.55 * source_detail

    by_name = {s["name"]: s for s in mix.specs}
    large = [n for n in mix.names if max(Image.open(mix.folder / n).size) >= 1000]
    assert 0.2 * COUNT <= len(large) <= 0.45 * COUNT
    assert max(max(Image.open(mix.folder / n).size) for n in large) >= 1400
    collages = [n for n in large if by_name[n]["layout"] == "photo"]
    assert collages, "no large tight collage in this mix: pick another SEED"
    for name in collages:  # photo pixels edge to edge: the detail of a photo, not of an upscale
        assert webmix.detail(Image.open(mix.folder / name)) > 0.7 * source_detail, name
    # Every large image, collages on a plain ground included, has clearly more detail than a smooth upscale.
    assert statistics.median(webmix.detail(Image.open(mix.folder / n)) for n in large) > 1.2 * upscaled


def test_build_is_deterministic_for_a_seed_and_cached(mix, photos, tmp_path):
    again = webmix.build_mix(photos, tmp_path / "a", count=COUNT, seed=SEED, quiet=True)
    assert again.names == mix.names
    for name in mix.names:
        assert (again.folder / name).read_bytes() == (mix.folder / name).read_bytes(), name
    cached = webmix.build_mix(photos, tmp_path / "a", count=COUNT, seed=SEED, quiet=True)
    assert cached.cached and cached.folder == again.folder and cached.names == again.names
    other = webmix.build_mix(photos, tmp_path / "b", count=COUNT, seed=SEED + 1, quiet=True)
    assert other.names != mix.names or any(
        (other.folder / n).read_bytes() != (mix.folder / n).read_bytes() for n in mix.names)


def test_a_subset_is_described_on_its_own(mix):
    first = mix.names[:10]
    desc = mix.describe(first)
    assert desc["images"] == 10
    assert desc["total_bytes"] == sum((mix.folder / n).stat().st_size for n in first)


def test_a_folder_without_jpegs_is_refused(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(ValueError, match="no JPEG"):
        webmix.build_mix(tmp_path, tmp_path / "cache", count=5, seed=0, quiet=True)
