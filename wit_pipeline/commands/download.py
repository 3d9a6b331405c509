"""Download the images of a manifest (Parquet, CSV, TSV or JSONL, optionally compressed) into WebDataset
shards with per-shard Parquet and stats, like img2dataset. A re-run over the same output with the same
manifest and options skips complete shards and redoes broken ones; with others it is refused unless
--overwrite (the output's _wit_provenance.json records what made it)."""
from __future__ import annotations

import json

from transforms.download.manifest import count_rows, expand_inputs
from transforms.download.options import IMAGE_FORMATS, RESAMPLE, RESIZE_MODES, WEB_IMAGE_FORMATS, \
    DownloadOptions, FetchOptions, ImageOptions, ManifestOptions
from transforms.download.run import download

HELP = "download a manifest's images into WebDataset shards"


def register(p) -> None:
    p.add_argument("manifest", nargs="+", help="manifest file(s), folder(s) or glob(s); local or fsspec URLs")
    p.add_argument("--output", "-o", required=True, help="output folder: a path or gs://, s3://, ... URL")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an output made from another manifest or options (default: refuse; the same "
                        "manifest and options resume it)")
    g = p.add_argument_group("manifest")
    g.add_argument("--url-col", default="url")
    g.add_argument("--caption-col", default="caption", help="'' for none")
    g.add_argument("--carry-columns", default=None,
                   help="comma-separated columns to copy to the output (default: every other column)")
    g.add_argument("--input-format", choices=["parquet", "csv", "tsv", "jsonl"], default=None,
                   help="default: from the file name")
    g = p.add_argument_group("images")
    g.add_argument("--image-size", type=int, default=256)
    g.add_argument("--resize-mode", choices=RESIZE_MODES, default="keep_ratio")
    g.add_argument("--resize-only-if-bigger", action="store_true")
    g.add_argument("--resample", choices=RESAMPLE, default="area",
                   help="area: average when shrinking (like img2dataset's INTER_AREA), Lanczos when enlarging")
    g.add_argument("--encode-format", choices=["jpg", "webp", "png"], default="jpg")
    g.add_argument("--encode-quality", type=int, default=95)
    g.add_argument("--min-image-size", type=int, default=0, help="smallest side of the original, pixels")
    g.add_argument("--max-aspect-ratio", type=float, default=0.0, help="0 = no limit")
    g.add_argument("--max-pixels", type=int, default=ImageOptions.max_pixels,
                   help="refuse images whose header declares more pixels (decompression bombs); default: "
                        "%(default)s")
    g.add_argument("--max-output-pixels", type=int, default=ImageOptions.max_output_pixels,
                   help="refuse images whose resize would make more pixels (a 100000x1 PNG at keep_ratio); "
                        "default: %(default)s")
    g.add_argument("--image-formats", default=",".join(WEB_IMAGE_FORMATS),
                   help=f"formats decoded, judged from the bytes (others are refused): some of "
                        f"{','.join(IMAGE_FORMATS)}; default: %(default)s")
    g = p.add_argument_group("network")
    d = FetchOptions()
    g.add_argument("--concurrency", type=int, default=d.concurrency, help="requests in flight per process")
    g.add_argument("--per-host-concurrency", type=int, default=d.per_host_concurrency)
    g.add_argument("--connect-timeout", type=float, default=d.connect_timeout)
    g.add_argument("--read-timeout", type=float, default=d.read_timeout)
    g.add_argument("--total-timeout", type=float, default=d.total_timeout)
    g.add_argument("--retries", type=int, default=d.retries)
    g.add_argument("--max-retry-after", type=float, default=d.max_retry_after)
    g.add_argument("--max-redirects", type=int, default=d.max_redirects)
    g.add_argument("--max-body-bytes", type=int, default=d.max_body_bytes,
                   help="largest body, as sent and once its Content-Encoding is undone; default: %(default)s")
    g.add_argument("--user-agent", default=d.user_agent)
    g.add_argument("--ignore-robots", action="store_true",
                   help="do not honour robots.txt and X-Robots-Tag (only for sites you own)")
    g.add_argument("--allow-private-network", action="store_true",
                   help="allow private, loopback and link-local addresses (never cloud metadata)")
    g.add_argument("--allow-network", action="append", default=[], metavar="CIDR",
                   help="allow one non-public network, e.g. 127.0.0.0/8 (repeatable)")
    g = p.add_argument_group("run")
    g.add_argument("--shard-size", type=int, default=10_000, help="rows per shard")
    g.add_argument("--processes", type=int, default=1)
    g.add_argument("--decode-threads", type=int, default=0,
                   help="decode/resize threads per process; 0 = cores / processes")
    g.add_argument("--no-progress", action="store_true")
    g.add_argument("--summary-json", default=None, help="also write the run summary to this file")


def options_from_args(args) -> DownloadOptions:
    carry = None if args.carry_columns is None else tuple(c for c in args.carry_columns.split(",") if c)
    return DownloadOptions(
        output=args.output, shard_size=args.shard_size, processes=args.processes,
        decode_threads=args.decode_threads, progress=not args.no_progress,
        image=ImageOptions(image_size=args.image_size, resize_mode=args.resize_mode,
                           resize_only_if_bigger=args.resize_only_if_bigger, resample=args.resample,
                           encode_format=args.encode_format,
                           encode_quality=args.encode_quality, min_image_size=args.min_image_size,
                           max_aspect_ratio=args.max_aspect_ratio, max_pixels=args.max_pixels,
                           max_output_pixels=args.max_output_pixels,
                           image_formats=tuple(f.strip() for f in args.image_formats.split(",") if f.strip())),
        fetch=FetchOptions(concurrency=args.concurrency, per_host_concurrency=args.per_host_concurrency,
                           connect_timeout=args.connect_timeout, read_timeout=args.read_timeout,
                           total_timeout=args.total_timeout, retries=args.retries,
                           max_retry_after=args.max_retry_after, max_redirects=args.max_redirects,
                           max_body_bytes=args.max_body_bytes, user_agent=args.user_agent,
                           respect_robots=not args.ignore_robots,
                           allow_private_network=args.allow_private_network,
                           allowed_networks=tuple(args.allow_network)),
        manifest=ManifestOptions(url_col=args.url_col, caption_col=args.caption_col or None,
                                 carry_columns=carry, input_format=args.input_format),
    )


def run(args) -> int:
    options = options_from_args(args)
    total = count_rows(expand_inputs(args.manifest))
    summary = download(args.manifest, options, total_rows=total, overwrite=args.overwrite)
    print(summary.report())
    if args.summary_json:
        with open(args.summary_json, "w") as f:
            json.dump(summary.as_dict(), f, indent=1)
    return 0
