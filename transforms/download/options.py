"""Options of the download stage, one dataclass per concern (no 40-argument function)."""
from __future__ import annotations

import dataclasses
import ipaddress
import os
from dataclasses import dataclass, field

from ..flag import opt

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
# X-Robots-Tag directives that opt an image out of the crawl (img2dataset's disallowed_header_directives, plus
# "none", which means noindex and nofollow).
OPT_OUT_DIRECTIVES = ("noai", "noimageai", "noindex", "noimageindex", "none")


@dataclass(frozen=True)
class ImageOptions:
    """How a downloaded image is checked, resized and encoded."""

    image_size: int = opt(256, "size the images are resized to, in pixels (which side: see resize mode)")
    resize_mode: str = opt("keep_ratio", "no; keep_ratio: smallest side = size; keep_ratio_largest: largest side "
                           "= size; center_crop; border: largest side = size, padded white", choices=RESIZE_MODES)
    resize_only_if_bigger: bool = opt(False, "never enlarge: a smaller image is kept as it is")
    resample: str = opt("area", "area: average when shrinking (img2dataset's INTER_AREA), Lanczos when enlarging; "
                        "or one Pillow filter both ways", choices=RESAMPLE)
    encode_format: str = opt("jpg", "format the images are stored in", choices=ENCODE_FORMATS)
    encode_quality: int = opt(95, "JPEG/WebP quality; for PNG the zlib level is derived from it")
    min_image_size: int = opt(0, "refuse originals whose smallest side is smaller, in pixels (0: no limit)")
    max_aspect_ratio: float = opt(0.0, "refuse originals whose long side / short side is larger (0: no limit)")
    max_pixels: int = opt(89_478_485, "refuse images whose header declares more pixels, before any is decoded "
                          "(decompression bombs; Pillow's default)")
    # keep_ratio makes a 100000x1 PNG 25,600,000x256; resize_mode "no" keeps the original (max_pixels bounds it).
    max_output_pixels: int = opt(4096 * 4096, "refuse images whose resize would make more pixels, before resizing")
    image_formats: tuple = opt(WEB_IMAGE_FORMATS, "formats decoded, told from the bytes; others are refused. Some "
                               f"of {','.join(IMAGE_FORMATS)}", choices=IMAGE_FORMATS)

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


MIN_RATE = 0.01  # requests per second per host: one every 100 s


@dataclass(frozen=True)
class FetchOptions:
    """How images are fetched: limits, timeouts, retries and the rules of politeness and safety."""

    concurrency: int = opt(64, "requests in flight per process")
    per_host_concurrency: int = opt(16, "requests in flight per host for the whole job: every worker, process "
                                    "and thread together (robots.txt included)")
    per_host_rate: float = opt(0.0, "requests per second per host for the whole job, robots.txt included "
                               "(0: no limit)")
    connect_timeout: float = opt(10.0, "seconds to connect")
    read_timeout: float = opt(10.0, "longest silence while reading, in seconds")
    total_timeout: float = opt(30.0, "seconds for a whole request (redirects excluded): ends slow drips")
    # A chain of redirects to new origins, each with its own robots.txt, multiplied total_timeout.
    attempt_timeout: float = opt(0.0, "seconds for one attempt, every redirect and robots.txt fetch included "
                                 "(0: twice total_timeout)")
    retries: int = opt(2, "extra attempts after a retryable failure (429, 5xx, timeout, dropped connection)")
    backoff: float = opt(0.5, "first retry delay in seconds, doubled each time")
    max_retry_after: float = opt(30.0, "a longer Retry-After, in seconds, is a failure, not a wait")
    max_redirects: int = opt(5, "redirects followed")
    max_body_bytes: int = opt(20 * 1024 * 1024, "largest body, as sent and once its Content-Encoding is undone")
    user_agent: str = opt(USER_AGENT, "User-Agent header")
    respect_robots: bool = opt(True, "do not honour robots.txt and X-Robots-Tag (only for sites you own)",
                               flag="ignore-robots", invert=True)
    opt_out_directives: tuple = opt(OPT_OUT_DIRECTIVES, "X-Robots-Tag directives that opt a response out "
                                    "(with robots honoured)", flag="opt-out-directives")
    allow_private_network: bool = opt(False, "fetch private, loopback, link-local and site-local addresses "
                                      "(never cloud metadata)")
    # e.g. ("127.0.0.0/8",) for a local test web.
    allowed_networks: tuple = opt((), "allow one non-public network although the rest stay refused, e.g. "
                                  "127.0.0.0/8 (repeatable)", flag="allow-network", repeat=True)

    @property
    def attempt_seconds(self) -> float:
        return self.attempt_timeout or 2 * self.total_timeout

    def __post_init__(self):
        for name in ("concurrency", "per_host_concurrency", "max_redirects", "max_body_bytes"):
            if getattr(self, name) < (0 if name == "max_redirects" else 1):
                raise ValueError(f"{name} must be positive, not {getattr(self, name)}")
        if self.attempt_timeout < 0:
            raise ValueError(f"attempt_timeout must be 0 (twice total_timeout) or positive, not {self.attempt_timeout}")
        for name in ("connect_timeout", "read_timeout", "total_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive seconds, not {getattr(self, name)}")
        if self.retries < 0:
            raise ValueError(f"retries must be 0 or more, not {self.retries}")
        if self.per_host_rate != 0 and not MIN_RATE <= self.per_host_rate:  # a slower one waits for minutes a slot
            raise ValueError(f"per_host_rate must be 0 (no limit) or at least {MIN_RATE} requests per second, "
                             f"not {self.per_host_rate}")
        for net in self.allowed_networks:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError as e:
                raise ValueError(f"allowed_networks: {e}") from None


@dataclass(frozen=True)
class ManifestOptions:
    """Which columns of the input manifest hold what."""

    url_col: str = opt("url", "manifest column of the image URLs")
    caption_col: str | None = opt("caption", "manifest column of the captions ('' for none)",
                                  parse=lambda s: s or None)
    carry_columns: tuple | None = opt(None, "columns copied to the shard Parquet and each sample's JSON, "
                                      "comma-separated (default: every other column)")
    input_format: str | None = opt(None, "the manifest's file format (default: from its name)",
                                   flag="manifest-format", choices=("parquet", "csv", "tsv", "jsonl", "txt"))


@dataclass(frozen=True)
class DownloadOptions:
    """Everything `wit download` needs, grouped."""

    output: str = opt(help="output folder: a path or gs://, s3://, ... URL", cli=False)
    shard_size: int = opt(10_000, "rows per shard")
    processes: int = opt(1, "worker processes")
    # More threads than cores only add GIL contention.
    decode_threads: int = opt(0, "threads per process that decode, resize and encode (0: cores / processes)")
    image: ImageOptions = field(default_factory=ImageOptions)
    fetch: FetchOptions = field(default_factory=FetchOptions)
    manifest: ManifestOptions = field(default_factory=ManifestOptions)
    progress: bool = opt(True, "show a progress bar on a terminal")

    def __post_init__(self):
        if self.shard_size < 1:
            raise ValueError(f"shard_size must be positive, not {self.shard_size}")
        if self.processes < 1:
            raise ValueError(f"processes must be positive, not {self.processes}")
        if self.decode_threads < 0:
            raise ValueError(f"decode_threads must be 0 (automatic) or more, not {self.decode_threads}")
        if self.processes > self.fetch.per_host_concurrency:  # each process holds at least one request per host
            raise ValueError(f"{self.processes} processes cannot share a per-host budget of "
                             f"{self.fetch.per_host_concurrency} requests in flight: lower --processes or raise "
                             "--per-host-concurrency")

    @property
    def threads(self) -> int:
        return self.decode_threads or max(1, (os.cpu_count() or 1) // self.processes)

    def replace(self, **changes) -> "DownloadOptions":
        return dataclasses.replace(self, **changes)
