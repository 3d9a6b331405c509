"""Options of the download stage, one dataclass per concern (no 40-argument function)."""
from __future__ import annotations

import dataclasses
import ipaddress
import os
from dataclasses import dataclass, field

RESIZE_MODES = ("no", "keep_ratio", "center_crop", "border", "keep_ratio_largest")
ENCODE_FORMATS = ("jpg", "webp", "png")
# "area" averages the covered pixels when shrinking (Pillow's BOX filter, like img2dataset's cv2.INTER_AREA) and
# uses Lanczos when enlarging; the others apply one Pillow filter both ways.
RESAMPLE = ("area", "bilinear", "bicubic", "lanczos")
# Image formats the decoder may open, identified from the bytes (never from Content-Type). The web formats
# are the default; the others are opt-in, each a decoder an attacker can aim at. Pillow's many other
# readers (PSD, EPS through Ghostscript, ...) are never used.
WEB_IMAGE_FORMATS = ("jpeg", "png", "webp", "gif")
IMAGE_FORMATS = (*WEB_IMAGE_FORMATS, "avif", "bmp", "tiff", "ico")
USER_AGENT = "wit-pipeline/0.1 (+https://github.com/wit-pipeline/wit-pipeline; image-text dataset builder)"
# The token robots.txt rules name (RFC 9309 product token); "*" rules apply too.
ROBOTS_TOKEN = "wit-pipeline"


@dataclass(frozen=True)
class ImageOptions:
    """How a downloaded image is checked, resized and encoded."""

    image_size: int = 256
    resize_mode: str = "keep_ratio"
    resize_only_if_bigger: bool = False
    resample: str = "area"
    encode_format: str = "jpg"
    encode_quality: int = 95  # JPEG/WebP quality; for PNG the zlib level is derived from it
    min_image_size: int = 0  # smallest side of the original, in pixels
    max_aspect_ratio: float = 0.0  # long side / short side of the original; 0 = no limit
    max_pixels: int = 89_478_485  # checked on the header, before any pixel is decoded (Pillow's default)
    # The largest image a resize may allocate (checked before resizing): keep_ratio makes a 100000x1 PNG
    # 25,600,000x256. resize_mode "no" keeps the original, which max_pixels bounds.
    max_output_pixels: int = 4096 * 4096
    image_formats: tuple = WEB_IMAGE_FORMATS

    def __post_init__(self):
        if self.resize_mode not in RESIZE_MODES:
            raise ValueError(f"resize_mode must be one of {', '.join(RESIZE_MODES)}, not {self.resize_mode!r}")
        if self.resample not in RESAMPLE:
            raise ValueError(f"resample must be one of {', '.join(RESAMPLE)}, not {self.resample!r}")
        if self.encode_format not in ENCODE_FORMATS:
            raise ValueError(f"encode_format must be one of {', '.join(ENCODE_FORMATS)}, not {self.encode_format!r}")
        if self.image_size < 1 and self.resize_mode != "no":
            raise ValueError(f"image_size must be at least 1, not {self.image_size}")
        if not 0 <= self.encode_quality <= 100:
            raise ValueError(f"encode_quality must be in 0..100, not {self.encode_quality}")
        for name in ("max_pixels", "max_output_pixels"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, not {getattr(self, name)}")
        formats = tuple(f.lower() for f in self.image_formats)
        unknown = [f for f in formats if f not in IMAGE_FORMATS]
        if unknown or not formats:
            raise ValueError(f"image_formats must be some of {', '.join(IMAGE_FORMATS)}, not "
                             f"{', '.join(self.image_formats) or '(none)'}")
        object.__setattr__(self, "image_formats", formats)


@dataclass(frozen=True)
class FetchOptions:
    """How images are fetched: limits, timeouts, retries and the rules of politeness and safety."""

    concurrency: int = 64  # requests in flight per process
    per_host_concurrency: int = 16  # requests in flight per host (img2dataset has no such limit)
    connect_timeout: float = 10.0
    read_timeout: float = 10.0  # longest silence while reading
    total_timeout: float = 30.0  # whole request, redirects excluded; ends slow drips
    retries: int = 2  # extra attempts after a retryable failure (429, 5xx, timeout, connection error)
    backoff: float = 0.5  # first retry delay in seconds, doubled each time
    max_retry_after: float = 30.0  # a longer Retry-After is a failure, not a wait
    max_redirects: int = 5
    max_body_bytes: int = 20 * 1024 * 1024
    user_agent: str = USER_AGENT
    respect_robots: bool = True  # robots.txt and X-Robots-Tag
    allow_private_network: bool = False  # fetch private, loopback, link-local addresses
    # Networks allowed even though they are not public, e.g. ("127.0.0.0/8",) for a local test web.
    allowed_networks: tuple = ()

    def __post_init__(self):
        for name in ("concurrency", "per_host_concurrency", "max_redirects", "max_body_bytes"):
            if getattr(self, name) < (0 if name == "max_redirects" else 1):
                raise ValueError(f"{name} must be positive, not {getattr(self, name)}")
        for name in ("connect_timeout", "read_timeout", "total_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive seconds, not {getattr(self, name)}")
        if self.retries < 0:
            raise ValueError(f"retries must be 0 or more, not {self.retries}")
        for net in self.allowed_networks:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError as e:
                raise ValueError(f"allowed_networks: {e}") from None


@dataclass(frozen=True)
class ManifestOptions:
    """Which columns of the input manifest hold what."""

    url_col: str = "url"
    caption_col: str | None = "caption"
    # Extra columns copied to the shard Parquet and the per-sample JSON; None = every other column.
    carry_columns: tuple | None = None
    input_format: str | None = None  # parquet, csv, tsv, jsonl; None = from the file name


@dataclass(frozen=True)
class DownloadOptions:
    """Everything `wit download` needs, grouped."""

    output: str
    shard_size: int = 10_000
    processes: int = 1
    # Threads per process that decode, resize and encode; 0 = cores / processes (more threads than cores
    # only add GIL contention).
    decode_threads: int = 0
    image: ImageOptions = field(default_factory=ImageOptions)
    fetch: FetchOptions = field(default_factory=FetchOptions)
    manifest: ManifestOptions = field(default_factory=ManifestOptions)
    progress: bool = True

    def __post_init__(self):
        if self.shard_size < 1:
            raise ValueError(f"shard_size must be positive, not {self.shard_size}")
        if self.processes < 1:
            raise ValueError(f"processes must be positive, not {self.processes}")
        if self.decode_threads < 0:
            raise ValueError(f"decode_threads must be 0 (automatic) or more, not {self.decode_threads}")

    @property
    def threads(self) -> int:
        return self.decode_threads or max(1, (os.cpu_count() or 1) // self.processes)

    def replace(self, **changes) -> "DownloadOptions":
        return dataclasses.replace(self, **changes)
