"""The flags of `wit build` (plain argparse, no Beam import: `wit --help` and `wit download` stay fast)."""
from __future__ import annotations

from transforms.balance import BalanceOptions
from transforms.download.options import IMAGE_FORMATS, RESIZE_MODES, WEB_IMAGE_FORMATS, FetchOptions
from transforms.language.options import LanguageOptions
from transforms.text import TextOptions


def add_build_flags(parser) -> None:
    g = parser.add_argument_group("wit build")
    g.add_argument("--input", action="append", default=None,
                   help="crawl files (WAT, WARC), manifests, globs, folders or CC path listings; repeatable")
    g.add_argument("--output", help="output folder: local path or gs://, s3://")
    g.add_argument("--overwrite", action="store_true",
                   help="replace an output made from other inputs or options (default: refuse; the same ones resume)")
    g.add_argument("--queries", help="query list: queries.json, MetaCLIP metadata.json, .parquet or .txt")
    g.add_argument("--input_format", default="auto", choices=["auto", "wat", "warc", "manifest"])
    g.add_argument("--url_col", default=None, help="manifest column of image URLs (default: url or URL)")
    g.add_argument("--text_col", default=None, help="manifest column of alt texts (default: caption, text, TEXT or alt)")
    g.add_argument("--min_text_chars", type=int, default=TextOptions.min_chars)
    g.add_argument("--max_text_chars", type=int, default=TextOptions.max_chars)
    g.add_argument("--balance_t", type=int, default=BalanceOptions.t, help="MetaCLIP's cap per query")
    g.add_argument("--seed", type=int, default=0, help="seed of the balancing draws")
    g.add_argument("--languages", default="en", help="languages kept (comma-separated) or 'all'")
    g.add_argument("--language_backend", default=LanguageOptions.backend)
    g.add_argument("--language_prior", default=LanguageOptions.prior, choices=["web", "none"],
                   help="weigh candidate languages by their share of web pages, or keep the model's own prior")
    g.add_argument("--language_words", default=LanguageOptions.words, choices=["auto", "on", "off"],
                   help="add wordfreq's word frequencies to the model's n-grams (auto: on for py3langid)")
    g.add_argument("--shard_size", type=int, default=10_000)
    g.add_argument("--skip_download", action="store_true",
                   help="stop after the balanced manifest (no images fetched)")
    g.add_argument("--image_size", type=int, default=256)
    g.add_argument("--resize_mode", default="keep_ratio", choices=RESIZE_MODES)
    g.add_argument("--encode_format", default="jpg", choices=["jpg", "webp", "png"])
    g.add_argument("--encode_quality", type=int, default=95)
    g.add_argument("--image_formats", default=",".join(WEB_IMAGE_FORMATS),
                   help=f"formats decoded, judged from the bytes: some of {','.join(IMAGE_FORMATS)}; "
                        "default: %(default)s")
    g.add_argument("--download_concurrency", type=int, default=FetchOptions.concurrency)
    g.add_argument("--per_host_concurrency", type=int, default=FetchOptions.per_host_concurrency)
    g.add_argument("--download_timeout", type=float, default=FetchOptions.total_timeout)
    g.add_argument("--ignore_robots", action="store_true")
    g.add_argument("--allow_private_network", action="store_true")
    g.add_argument("--allow_network", action="append", default=[], help="CIDR allowed although not public")
