"""Decode, check, resize and encode one image: the CPU-bound part of the downloader.

Plain Pillow, safe to run in worker threads (Pillow releases the GIL while it decodes, resamples and encodes).
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from .errors import DownloadFailure
from .options import ImageOptions

_ORIENTATION = 0x0112
_MIME = {"jpg": "image/jpeg", "webp": "image/webp", "png": "image/png"}
_FILTERS = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC,
            "lanczos": Image.Resampling.LANCZOS}
# options.IMAGE_FORMATS -> Pillow's plugin names (a multi-picture JPEG opens as MPO through the JPEG plugin).
_PILLOW_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF", "avif": "AVIF", "bmp": "BMP",
                   "tiff": "TIFF", "ico": "ICO"}
# Formats Pillow has no reader for, named in refusal messages (Pillow's own readers name theirs).
_SIGNATURES = ((b"%PDF", "pdf"), (b"<svg", "svg"), (b"<?xml", "xml/svg"))
# Structural bounds (_check_structure): far above real files, far below what costs a worker seconds.
MAX_JPEG_SCANS = 100  # progressive JPEGs have about 10
MAX_JPEG_MARKERS = 1000  # APPn and COM
MAX_PNG_CHUNKS = 20_000  # a 20 MB PNG in libpng's 8 KB IDATs has 2,500
MAX_GIF_EXTENSION_BYTES = 1 << 20
_JPEG_APP_MARKER = re.compile(rb"\xff[\xe0-\xef\xfe]")
_LEADING = {b"\xff\xd8\xff": "JPEG", b"\x89PN": "PNG", b"GIF": "GIF"}
# Largest side each encoder can write (libjpeg: 65500; WebP: 16383).
_MAX_SIDE = {"jpg": 65500, "webp": 16383, "png": 2 ** 31 - 1}

@dataclass(frozen=True)
class ProcessedImage:
    data: bytes  # the encoded image to store
    width: int
    height: int
    original_width: int
    original_height: int


def target_size(width: int, height: int, options: ImageOptions) -> tuple[int, int]:
    """Size the image is resampled to (before any crop or border), from img2dataset's resize modes."""
    mode, size = options.resize_mode, options.image_size
    if mode == "no":
        return width, height
    if mode in ("keep_ratio", "center_crop"):
        scale = size / min(width, height)  # smallest side becomes image_size
    else:  # keep_ratio_largest, border: largest side becomes image_size
        scale = size / max(width, height)
    if options.resize_only_if_bigger and scale >= 1:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


def sniff_format(data: bytes) -> str:
    """The image format the body's first bytes name, for messages ("unknown" when none does). Only Pillow's
    signature checks run (its `_accept` functions look at a prefix): no reader is opened."""
    Image.init()
    prefix = data[:64]
    for name, (_, accept) in Image.OPEN.items():
        try:
            if accept is not None and accept(prefix):
                return {"MPO": "jpeg"}.get(name, name.lower())
        except Exception:
            continue
    return next((name for magic, name in _SIGNATURES if prefix.startswith(magic)), "unknown")


def _open(data: bytes, options: ImageOptions) -> Image.Image:
    """Open with the allowed decoders only: Pillow tries just those plugins, each checking the magic bytes."""
    try:
        return Image.open(io.BytesIO(data), formats=[_PILLOW_FORMATS[f] for f in options.image_formats])
    except Image.DecompressionBombError as e:  # Pillow's own guard, at twice its MAX_IMAGE_PIXELS
        raise DownloadFailure("image_too_large", f"image header declares too many pixels: {e}") from None
    except Exception:  # Pillow's message names a BytesIO address: useless, and unique per row
        found = sniff_format(data)
        if found != "unknown" and found not in options.image_formats:
            raise DownloadFailure("unsupported_format", f"the bytes are {found.upper()}, not one of "
                                  f"image_formats={','.join(options.image_formats)}") from None
        raise DownloadFailure("decode_error", "not a readable image: unknown or corrupt format") from None


def _check_structure(data, fmt: str) -> None:
    """Refuse, before decoding, files whose structure would hold a decode thread for seconds or minutes in
    Pillow or libjpeg: thousands of progressive scans, markers or chunks, or a huge GIF comment (read in
    quadratic time). Linear scans of the bytes; real files are far inside every bound."""
    if fmt == "JPEG":
        # 0xFF in entropy-coded data is followed by 0x00 or a restart marker, so these count real markers
        # (an embedded thumbnail or a binary profile may add a few).
        scans = data.count(b"\xff\xda")
        if scans > MAX_JPEG_SCANS:
            raise DownloadFailure("decode_error", f"refused: the JPEG has {scans} scans (more than "
                                  f"{MAX_JPEG_SCANS}; each one costs a pass over every pixel)")
        markers = len(_JPEG_APP_MARKER.findall(data))
        if markers > MAX_JPEG_MARKERS:
            raise DownloadFailure("decode_error", f"refused: the JPEG has {markers} APP or COM markers (more "
                                  f"than {MAX_JPEG_MARKERS})")
    elif fmt == "PNG":
        _check_png_chunks(data)
    elif fmt == "GIF":
        _check_gif_extensions(data)


def _check_png_chunks(data) -> None:
    pos, chunks = 8, 0
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        chunks += 1
        if chunks > MAX_PNG_CHUNKS:
            raise DownloadFailure("decode_error", f"refused: the PNG has more than {MAX_PNG_CHUNKS} chunks")
        if data[pos + 4:pos + 8] == b"IEND":
            return
        pos += 12 + length


def _check_gif_extensions(data) -> None:
    """The extension blocks before the first frame (Pillow reads a comment by appending 255-byte pieces)."""
    if len(data) < 13:
        return
    pos = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)  # after the global colour table
    total = 0
    while pos + 2 <= len(data) and data[pos] == 0x21:  # an extension: label, then sub-blocks up to a 0
        pos += 2
        while pos < len(data) and data[pos]:
            total += data[pos]
            if total > MAX_GIF_EXTENSION_BYTES:
                raise DownloadFailure("decode_error", "refused: the GIF's extensions before its first frame "
                                      f"hold more than {MAX_GIF_EXTENSION_BYTES} bytes")
            pos += data[pos] + 1
        pos += 1


def _check_output(width: int, height: int, options: ImageOptions) -> None:
    """Refuse, before resizing, an image whose output the encoder cannot hold, or whose resize would allocate
    more than max_output_pixels (resize_mode "no" allocates nothing new: max_pixels bounds the original)."""
    w, h = target_size(width, height, options)
    if options.resize_mode == "center_crop":
        w, h = min(w, options.image_size), min(h, options.image_size)  # long images: cropped while resampled
    elif options.resize_mode == "border":
        w, h = max(w, options.image_size), max(h, options.image_size)
    made = f"image {width}x{height} resized with {options.resize_mode} to {options.image_size} would be {w}x{h}"
    if options.resize_mode != "no" and w * h > options.max_output_pixels:
        raise DownloadFailure("image_too_large", f"{made}, more than max_output_pixels={options.max_output_pixels}")
    largest = _MAX_SIDE[options.encode_format]
    if max(w, h) > largest:
        raise DownloadFailure("image_too_large", f"{made}: {options.encode_format} holds at most {largest} "
                              "pixels a side")


def _check_original(width: int, height: int, options: ImageOptions) -> None:
    if width * height > options.max_pixels:
        raise DownloadFailure("image_too_large", f"image declares {width}x{height} = {width * height} pixels, "
                              f"more than max_pixels={options.max_pixels}")
    if options.min_image_size and min(width, height) < options.min_image_size:
        raise DownloadFailure("filtered", f"image {width}x{height} is smaller than "
                              f"min_image_size={options.min_image_size}")
    if options.max_aspect_ratio and max(width, height) / max(1, min(width, height)) > options.max_aspect_ratio:
        raise DownloadFailure("filtered", f"image {width}x{height} has an aspect ratio above "
                              f"max_aspect_ratio={options.max_aspect_ratio:g}")


def _exif_orientation(img: Image.Image) -> int:
    # Reading EXIF costs a parse; only JPEG/WebP/TIFF carry it and most web images have none.
    if "exif" not in img.info:
        return 1
    try:
        return int(img.getexif().get(_ORIENTATION, 1))
    except Exception:  # a broken EXIF block is no reason to drop a good image
        return 1


def _to_8bit(img: Image.Image) -> Image.Image:
    """16-bit, 32-bit integer and float greyscale as 8-bit L with the right levels (Pillow's own convert
    clips them: a mid-grey 16-bit PNG came out white, a float TIFF in 0..1 black). Converted a band of rows
    at a time: full-size float64 temporaries took 2 GB for a 9400x9400 16-bit PNG."""
    a = np.asarray(img)
    bands = [slice(start, start + 256) for start in range(0, a.shape[0], 256)]
    if img.mode == "F":
        top = max((np.nanmax(np.where(np.isfinite(a[rows]), a[rows], np.nan), initial=0.0) for rows in bands),
                  default=0.0)
        scale = 255.0 if top <= 1.0 else (1.0 if top <= 255.0 else 255.0 / top)  # 0..1, 0..255, or wider
    else:  # I;16*: 0..65535; I: as 8-bit, 16-bit or wider, by its largest value
        top = int(a.max(initial=0))
        scale = 1.0 if img.mode == "I" and top <= 255 else (1 / 257.0 if top <= 65535 else 255.0 / top)
    out = np.empty(a.shape, np.uint8)
    for rows in bands:
        band = a[rows].astype(np.float32) * scale
        out[rows] = np.clip(np.rint(np.nan_to_num(band, nan=0.0, posinf=0.0, neginf=0.0)), 0, 255)
    return Image.fromarray(out, "L")


def _to_rgb(img: Image.Image) -> Image.Image:
    """RGB, with any transparency composited on white (so transparent logos do not turn black)."""
    if img.mode == "RGB" and "transparency" not in img.info:
        return img
    if img.mode in ("F", "I") or img.mode.startswith("I;16"):
        img = _to_8bit(img)
    # "transparency" in info: a palette entry or, for RGB/L PNGs, a colour key that is transparent.
    if "transparency" in img.info or img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return img.convert("RGB")


def _resample(img: Image.Image, options: ImageOptions, w: int, h: int, box=None) -> Image.Image:
    if options.resample == "area":
        shrinking = w * h < img.width * img.height if box is None else w * h < (box[2] - box[0]) * (box[3] - box[1])
        return img.resize((w, h), Image.Resampling.BOX if shrinking else Image.Resampling.LANCZOS, box=box)
    return img.resize((w, h), _FILTERS[options.resample], box=box)


def _fit(img: Image.Image, options: ImageOptions, size: tuple[int, int]) -> Image.Image:
    """Resample to `size` (computed from the original, so draft mode never shifts it), then crop or pad."""
    w, h = size
    size = options.image_size
    if options.resize_mode == "center_crop" and min(w, h) >= size and w * h > options.max_output_pixels:
        # A very long image: resample only the centre square's source box, never the whole long strip.
        sx, sy = img.width / w, img.height / h
        left, top = (w - size) // 2, (h - size) // 2
        return _resample(img, options, size, size, box=(left * sx, top * sy, (left + size) * sx, (top + size) * sy))
    if (w, h) != img.size:
        img = _resample(img, options, w, h)
    if options.resize_only_if_bigger and max(w, h) < size:
        return img  # like img2dataset: a small image is neither cropped nor padded
    if options.resize_mode == "center_crop" and (w, h) != (size, size) and min(w, h) >= size:
        left, top = (w - size) // 2, (h - size) // 2
        img = img.crop((left, top, left + size, top + size))
    elif options.resize_mode == "border" and (w, h) != (size, size):
        canvas = Image.new("RGB", (max(size, w), max(size, h)), (255, 255, 255))
        canvas.paste(img, ((canvas.width - w) // 2, (canvas.height - h) // 2))
        img = canvas
    return img


def encode(img: Image.Image, options: ImageOptions) -> bytes:
    out = io.BytesIO()
    if options.encode_format == "jpg":
        img.save(out, "JPEG", quality=options.encode_quality)
    elif options.encode_format == "webp":
        img.save(out, "WEBP", quality=options.encode_quality, method=4)
    else:  # png: quality 0..100 maps to zlib level 9..0 (higher quality, faster and larger)
        img.save(out, "PNG", compress_level=max(0, min(9, round(9 - options.encode_quality * 9 / 100))))
    return out.getvalue()


def mime_type(options: ImageOptions) -> str:
    return _MIME[options.encode_format]


def process_image(data: bytes, options: ImageOptions) -> ProcessedImage:
    """Bytes of a downloaded image to the stored image; raises DownloadFailure with the reason.

    Only the decoders of options.image_formats are used, chosen by the bytes. The pixel count is checked on the
    header before decoding, and the size the resize would make before resizing; Pillow's own decompression-bomb
    guard (twice its MAX_IMAGE_PIXELS) stays on as a second line of defence.
    """
    _check_structure(data, _LEADING.get(bytes(data[:3])))  # before Pillow opens it: opening reads these parts
    img = _open(data, options)
    width, height = img.size  # from the header: nothing is decoded yet
    _check_original(width, height, options)
    orientation = _exif_orientation(img)
    _check_output(*((height, width) if orientation in (5, 6, 7, 8) else (width, height)), options)
    try:
        if img.format == "JPEG" and options.resize_mode != "no":
            # Draft mode lets libjpeg decode at 1/2, 1/4 or 1/8 scale (DCT scaling) when the target allows it.
            tw, th = target_size(width, height, options)
            if orientation in (5, 6, 7, 8):
                tw, th = th, tw
            img.draft("RGB", (tw, th))
        img.load()
        if orientation != 1:
            img = ImageOps.exif_transpose(img)
        img = _to_rgb(img)
    except DownloadFailure:
        raise
    except Exception as e:
        raise DownloadFailure("decode_error", f"image data is corrupt: {e}") from None
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    try:
        img = _fit(img, options, target_size(width, height, options))
        # Nothing of the source's metadata is stored: a comment or a profile is the sender's text, not ours.
        img.info.clear()
        data = encode(img, options)
    except (OSError, ValueError, MemoryError) as e:
        raise DownloadFailure("decode_error", f"cannot resize or encode the image: {e}") from None
    return ProcessedImage(data, img.width, img.height, width, height)
