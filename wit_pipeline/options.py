"""`wit build`'s options: BuildConfig holds the stages' own option dataclasses, and its flags are made from them
(wit_pipeline/flags.py), so every stage option is settable from `wit build` under the name it has everywhere.
Plain argparse, no Beam import: `wit --help` stays fast. The flags are parsed once; what wit does not know is
Beam's (--runner, --project, --temp_location, --setup_file, --direct_num_workers, ...) and goes to
PipelineOptions unchanged."""
from __future__ import annotations

import argparse
from dataclasses import dataclass

from transforms.balance import BalanceOptions
from transforms.crawl.options import CrawlOptions
from transforms.dedup import DedupOptions
from transforms.download.options import DownloadOptions, FetchOptions, ImageOptions, ManifestOptions
from transforms.flag import opt
from transforms.language.options import LanguageOptions
from transforms.text import TextOptions
from wit_pipeline import flags
from wit_pipeline.curate.decontaminate_options import MAX_DISTANCE


@dataclass(frozen=True)
class BuildConfig:
    """Everything the pipeline needs, as the stages' own dataclasses."""

    inputs: tuple = opt((), "crawl files (WAT, WARC), manifests, globs, folders or CC path listings; repeatable",
                        flag="input", repeat="append")
    output: str = opt("", "output folder: local path or gs://, s3://")
    queries: str = opt("", "query list: queries.json, MetaCLIP metadata.json, .parquet or .txt")
    crawl: CrawlOptions = CrawlOptions()
    text: TextOptions = TextOptions()
    language: LanguageOptions = LanguageOptions()
    dedup: DedupOptions = DedupOptions()
    balance: BalanceOptions = BalanceOptions()
    download: DownloadOptions | None = None
    skip_download: bool = opt(False, "stop after the balanced manifest (no images fetched)")
    against: tuple = opt((), "evaluation image folders: after the download, drop the shard samples whose images "
                         "near-duplicate one of theirs (status eval_overlap; as wit decontaminate finds them)",
                         nargs="+", metavar="DIR")
    against_max_distance: int = opt(MAX_DISTANCE, "with --against: largest Hamming distance of the 256-bit DCT hashes "
                                    "(0-256) that counts as a copy", metavar="N")
    overwrite: bool = opt(False, "replace an output made from other inputs or options (without it: refused; the "
                          "same ones resume)")

    @property
    def shards(self) -> str:
        return f"{self.output.rstrip('/')}/shards"


# Older names, still accepted (hidden from --help).
ALIASES = {"caption_col": ["text_col", "text-col"], "input_kind": ["format"],
           "concurrency": ["download_concurrency", "download-concurrency"],
           "total_timeout": ["download_timeout", "download-timeout"]}
# The download's manifest columns, its output folder and process count are the build's own business.
_SET_BY_BUILD = ("output", "processes", "progress")
_FLAGS: list = []


class _Renamed(argparse.Action):
    """A flag that changed meaning: refused, saying what to use instead."""

    def __init__(self, option_strings, dest, instead: str = "", **kwargs):
        self.instead = instead
        super().__init__(option_strings, dest, nargs="?", help=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        parser.error(f"{option_string} is now {self.instead}")


def add_build_flags(parser) -> list:
    """Every flag of `wit build`; returns them (they are what config_from_args reads)."""
    made = flags.add_flags(parser, BuildConfig, recurse=False, group="wit build")
    made += flags.add_flags(parser, CrawlOptions, path=("crawl",), group="crawl", aliases=ALIASES)
    made += flags.add_flags(parser, TextOptions, path=("text",), group="text rules")
    made += flags.add_flags(parser, LanguageOptions, path=("language",), group="language")
    made += flags.add_flags(parser, DedupOptions, path=("dedup",), group="dedup")
    made += flags.add_flags(parser, BalanceOptions, path=("balance",), group="balance")
    made += flags.add_flags(parser, DownloadOptions, path=("download",), recurse=False, skip=_SET_BY_BUILD,
                            group="shards")
    made += flags.add_flags(parser, ImageOptions, path=("download", "image"), group="images")
    made += flags.add_flags(parser, FetchOptions, path=("download", "fetch"), group="network", aliases=ALIASES)
    parser.add_argument("--input_format", "--input-format", action=_Renamed, dest="_renamed",
                        instead="--input-kind (auto, wat, warc, manifest); a manifest's file format is "
                                "--manifest-format")
    _FLAGS[:] = made
    return made


def config_from_args(args) -> BuildConfig:
    missing = [f"--{name}" for name, value in (("input", args.input), ("output", args.output),
                                              ("queries", args.queries)) if not value]
    if missing:
        raise ValueError(f"wit build needs {', '.join(missing)}")
    output = args.output.rstrip("/")
    stage = {name: flags.build(cls, args, _FLAGS, path=(name,)) for name, cls in (
        ("crawl", CrawlOptions), ("text", TextOptions), ("language", LanguageOptions), ("dedup", DedupOptions),
        ("balance", BalanceOptions))}
    download = flags.build(DownloadOptions, args, _FLAGS, path=("download",), output=f"{output}/shards",
                           processes=1, progress=False, manifest=ManifestOptions(url_col="url", caption_col="text"))
    return flags.build(BuildConfig, args, _FLAGS, output=output, download=download, **stage)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wit build", allow_abbrev=False, formatter_class=flags.HelpFormatter)
    add_build_flags(parser)
    return parser


def parse_build_args(argv: list[str]) -> tuple[BuildConfig, list[str]]:
    """(the build's config, Beam's arguments) from a `wit build` command line, parsed once."""
    own, after = flags.split_beam_args(argv)
    args, beam_args = build_parser().parse_known_args(own)
    return config_from_args(args), beam_args + after


def build_config(argv: list[str]) -> BuildConfig:
    return parse_build_args(argv)[0]
