"""Download the images of a manifest (Parquet, CSV, TSV, JSONL or a URL list, optionally compressed) into
WebDataset shards with per-shard Parquet and stats, like img2dataset. A re-run over the same output with the
same manifest and options skips complete shards and redoes broken ones; with others it is refused unless
--overwrite (the output's _wit_provenance.json records what made it).

img2dataset's command line works too (`wit download --url_list=urls.txt --output_folder=out --thread_count=64
--image_size=256 ...`), with img2dataset's defaults; the settings wit cannot honour are refused, saying why."""
from __future__ import annotations

import json
import sys

from transforms.download.manifest import count_rows, expand_inputs
from transforms.download.options import DownloadOptions, FetchOptions, ImageOptions, ManifestOptions
from transforms.download.run import download
from wit_pipeline import flags

HELP = "download a manifest's images into WebDataset shards"
_FLAGS: list = []  # the options' flags, made once by register()


def register(p) -> None:
    p.add_argument("manifest", nargs="+", help="manifest file(s), folder(s) or glob(s); local or fsspec URLs")
    p.add_argument("--output", "-o", required=True, help="output folder: a path or gs://, s3://, ... URL")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an output made from another manifest or options (without it: refused; the same "
                        "manifest and options resume it)")
    summary = p.add_argument("--summary-json", "--summary_json", default=None,
                             help="also write the run summary to this file")
    summary.hidden_aliases = ("--summary_json",)
    _FLAGS[:] = (flags.add_flags(p, ManifestOptions, path=("manifest",), group="manifest",
                                 aliases={"manifest_format": ["input-format", "input_format"]})
                 + flags.add_flags(p, ImageOptions, path=("image",), group="images")
                 + flags.add_flags(p, FetchOptions, path=("fetch",), group="network")
                 + flags.add_flags(p, DownloadOptions, recurse=False, group="run"))


def options_from_args(args) -> DownloadOptions:
    return flags.build(DownloadOptions, args, _FLAGS, output=args.output)


def run(args) -> int:
    options = options_from_args(args)
    total = count_rows(expand_inputs(args.manifest))
    summary = download(args.manifest, options, total_rows=total, overwrite=args.overwrite)
    print(summary.report())
    if args.summary_json:
        with open(args.summary_json, "w") as f:
            json.dump(summary.as_dict(), f, indent=1)
    return 0


def translate_argv(argv: list[str]) -> list[str]:
    """img2dataset's flags as wit download's (see wit_pipeline/img2dataset_flags.py); notes go to stderr."""
    from wit_pipeline.img2dataset_flags import translate
    argv, notes = translate(argv)
    for note in notes:
        print(f"wit download: {note}", file=sys.stderr)
    return argv
