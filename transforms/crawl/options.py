"""Options of the crawl stage: what to read and how candidates are cut from it (one frozen dataclass)."""
from __future__ import annotations

from dataclasses import dataclass

from transforms.flag import opt

FORMATS = ("auto", "wat", "warc", "manifest")
MANIFEST_FORMATS = ("parquet", "csv", "tsv", "jsonl")
CC_PREFIX = "https://data.commoncrawl.org/"
URL_COLUMNS = ("url", "URL", "image_url")
TEXT_COLUMNS = ("caption", "text", "TEXT", "alt", "CAPTION")


@dataclass(frozen=True)
class CrawlOptions:
    """How inputs are read into candidates.

    format: "auto" tells each file's kind from its name (.wat.gz, .warc.gz, .parquet, ...) and, failing
    that, from its first record; or force "wat", "warc" or "manifest" for every file.
    """

    format: str = opt("auto", "kind of every input file; auto: from each file's name, else from its first record",
                      flag="input-kind", choices=FORMATS)
    # Manifests (Parquet/CSV/TSV/JSONL): which columns hold the image URL and its text.
    url_col: str | None = opt(None, "manifest column of the image URLs (default: the first of "
                              f"{', '.join(URL_COLUMNS)})")
    text_col: str | None = opt(None, "manifest column of the alt texts (default: the first of "
                               f"{', '.join(TEXT_COLUMNS)})", flag="caption-col")
    manifest_format: str | None = opt(None, "the manifests' file format (default: from the file name)",
                                      choices=MANIFEST_FORMATS)
    # Candidates
    keep_title: bool = opt(True, "keep <img title> (in its own column, never mixed into the text)", flag="title")
    use_srcset: bool = opt(True, "an <img> without a usable src takes the largest srcset candidate (WARC)",
                           flag="srcset")
    max_text_len: int = opt(4096, "skip (and count) longer alt texts: pasted text, not captions")
    max_url_len: int = opt(4096, "skip (and count) longer image URLs: mostly data: blobs or tracking junk")
    max_html_bytes: int = opt(8 << 20, "skip (and count) larger HTML bodies, to bound memory and time")
    # A page of 100k <img> is spam; the cap bounds the work and the rows one page can cost.
    max_images_per_page: int = opt(1000, "count (too_many_images), not examine, more images than this per page")
    # A small gzip member can inflate to gigabytes.
    max_record_bytes: int = opt(8 << 20, "skip (and count: record_too_large) WAT records and WARC metadata "
                                "records larger than this, after reading this much")
    # Common Crawl path listings (wat.paths.gz, warc.paths.gz)
    cc_prefix: str = opt(CC_PREFIX, "prepended to each path of a Common Crawl listing (s3://commoncrawl/ on AWS)")
    paths_count: int | None = opt(None, "read the first N files of each path listing")
    paths_sample: int | None = opt(None, "or a seeded random sample of N files of each listing")
    paths_seed: int = opt(0, "seed of the path sample")

    def __post_init__(self):
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {self.format!r}")
        if self.manifest_format is not None and self.manifest_format not in MANIFEST_FORMATS:
            raise ValueError(f"manifest_format must be one of {', '.join(MANIFEST_FORMATS)}, "
                             f"not {self.manifest_format!r}")
        for name in ("max_text_len", "max_url_len", "max_html_bytes", "max_images_per_page",
                     "max_record_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, not {getattr(self, name)}")
        if self.paths_count is not None and self.paths_sample is not None:
            raise ValueError("give paths_count or paths_sample, not both")
        for name in ("paths_count", "paths_sample"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be at least 0, not {value}")
        if self.url_col == "" or self.text_col == "":
            raise ValueError("url_col and text_col name a column, or are None to pick a usual name")
