"""Deterministic, photo-like test images and a decompression-bomb PNG.

The same (seed, width, height, fmt) always gives the same bytes, so tests can compare downloads
byte for byte and the shard writer's output stays reproducible.
"""
from __future__ import annotations

import functools
import io
import struct
import zlib

import numpy as np
from PIL import Image, ImageDraw

FORMATS = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif"}
JPEG_QUALITY = 85
# Subject icons: 5 shapes x 4 colours, one per class of the demo's mini-web (miniweb.OBJECTS), so a CLIP trained
# on its captions has something to see; the rest of the picture stays random.
ICON_SHAPES = ("disc", "square", "triangle", "cross", "ring")
ICON_COLOURS = ((220, 30, 30), (30, 170, 40), (30, 60, 220), (240, 200, 20))
SUBJECTS = len(ICON_SHAPES) * len(ICON_COLOURS)


@functools.lru_cache(maxsize=2048)
def make_image(seed: int, width: int, height: int, fmt: str, subject: int | None = None) -> bytes:
    """Encode a generated picture as jpg, png (RGBA, partly transparent), webp or gif; with `subject`, the
    picture carries that subject's icon."""
    if fmt not in FORMATS:
        raise ValueError(f"unsupported format {fmt!r}; expected one of {sorted(FORMATS)}")
    if width < 1 or height < 1:
        raise ValueError(f"bad size {width}x{height}")
    rgb = _picture(seed, width, height)
    if subject is not None:
        _draw_icon(rgb, subject, np.random.default_rng((seed, subject)))
    buf = io.BytesIO()
    if fmt == "jpg":
        rgb.save(buf, "JPEG", quality=JPEG_QUALITY)
    elif fmt == "png":
        rgba = rgb.convert("RGBA")
        rgba.putalpha(_alpha_mask(width, height))
        rgba.save(buf, "PNG")
    elif fmt == "webp":
        rgb.save(buf, "WEBP", quality=80, method=0)
    else:
        rgb.quantize(colors=64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(buf, "GIF")
    return buf.getvalue()


def _picture(seed: int, width: int, height: int) -> Image.Image:
    """A smooth two-colour gradient, a few soft shapes and mild sensor-like noise."""
    rng = np.random.default_rng(seed)
    c0, c1 = rng.integers(0, 256, size=(2, 3)).astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    t = (xs / max(width, 1) * np.cos(angle) + ys / max(height, 1) * np.sin(angle) + 1) / 2
    pixels = c0 + (c1 - c0) * t[..., None]
    img = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")

    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(3, 7))):
        x0, x1 = sorted(rng.integers(0, width, size=2).tolist())
        y0, y1 = sorted(rng.integers(0, height, size=2).tolist())
        colour = tuple(int(v) for v in rng.integers(0, 256, size=3))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape([x0, y0, x1 + 1, y1 + 1], fill=colour)

    # Mild noise gives JPEG something to encode, so sizes look like real photos, not flat art.
    noise = rng.standard_normal((height, width, 3), dtype=np.float32) * 8
    return Image.fromarray(np.clip(np.asarray(img, np.float32) + noise, 0, 255).astype(np.uint8), "RGB")


def _draw_icon(img: Image.Image, subject: int, rng: np.random.Generator) -> None:
    """The subject's shape in its colour, large (half to three quarters of the short side), anywhere."""
    if not 0 <= subject < SUBJECTS:
        raise ValueError(f"subject must be in 0..{SUBJECTS - 1}, not {subject}")
    shape, colour = ICON_SHAPES[subject % len(ICON_SHAPES)], ICON_COLOURS[subject // len(ICON_SHAPES)]
    width, height = img.size
    side = max(2, int(min(width, height) * rng.uniform(0.5, 0.75)))
    x0, y0 = int(rng.integers(0, width - side + 1)), int(rng.integers(0, height - side + 1))
    box = [x0, y0, x0 + side, y0 + side]
    draw = ImageDraw.Draw(img)
    bar = max(1, side // 4)
    if shape == "disc":
        draw.ellipse(box, fill=colour)
    elif shape == "square":
        draw.rectangle(box, fill=colour)
    elif shape == "triangle":
        draw.polygon([(x0 + side // 2, y0), (x0, y0 + side), (x0 + side, y0 + side)], fill=colour)
    elif shape == "cross":
        draw.rectangle([x0 + (side - bar) // 2, y0, x0 + (side + bar) // 2, y0 + side], fill=colour)
        draw.rectangle([x0, y0 + (side - bar) // 2, x0 + side, y0 + (side + bar) // 2], fill=colour)
    else:
        draw.ellipse(box, outline=colour, width=bar)


def _alpha_mask(width: int, height: int) -> Image.Image:
    """Opaque ellipse on a fully transparent background: real alpha=0 pixels in the corners."""
    mask = Image.new("L", (width, height), 0)
    ImageDraw.Draw(mask).ellipse([0, 0, width - 1, height - 1], fill=255)
    if width <= 2 or height <= 2:
        mask.putpixel((0, 0), 0)  # tiny images: keep at least one transparent pixel
    return mask


@functools.lru_cache(maxsize=16)
def bomb_png(width: int, height: int) -> bytes:
    """A few-byte PNG whose header claims width x height: size checks must reject it before decoding."""
    buf = io.BytesIO()
    Image.new("RGB", (1, 1), (255, 0, 0)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    # Layout: 8-byte signature, then IHDR = length(4) "IHDR"(4) data(13) crc(4); width/height open the data.
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


@functools.lru_cache(maxsize=256)
def corrupt_jpeg(seed: int, width: int, height: int) -> bytes:
    """Starts like the real JPEG (SOI + JFIF header), then deterministic garbage: sniffs as JPEG, cannot decode."""
    real = make_image(seed, width, height, "jpg")
    # Garbage bytes stay below 0xFF so no byte can pass for a JPEG marker.
    garbage = np.random.default_rng(seed).integers(0, 255, size=len(real) - 20, dtype=np.uint8)
    return real[:20] + garbage.tobytes()
