"""Run the download stage alone on a finished build: from OUTPUT/manifest/*.parquet to OUTPUT/shards/ (tars,
Parquet, stats, sizes.json), the same bytes `wit build` writes there. For two clusters: curation on many
workers next to the crawl (`wit build ... --skip-download`), then the download on a few workers for as long
as it takes (`wit shards OUTPUT --runner=DataflowRunner --num_workers=8 ...`).

Every option that changes the shards (image size and format, the safety limits, the shard size, ...) is the
build's, read from OUTPUT/_wit_provenance.json, so the shards are the build's whatever is typed here; the
flags below only say how fast and how politely to fetch. Complete shards are skipped, so a stopped run
resumes. Flags wit does not know are Beam's."""
from __future__ import annotations

import argparse
import json

from wit_pipeline import flags

HELP = "download a finished build's manifest into its shards (the download stage alone, on Beam)"
BEAM_ARGS = True  # unknown flags are Beam's: passed on to PipelineOptions
_FLAGS: list = []


def register(p) -> None:
    import dataclasses

    from transforms.download.options import DownloadOptions, FetchOptions
    from transforms.download.provenance import BUILD_DOWNLOAD_RUN_OPTIONS
    from wit_pipeline.options import ALIASES

    p.add_argument("output", help="a `wit build` output folder (local or gs://, s3://) holding manifest/")
    # Only the options that never change the bytes: the rest are the build's.
    byte_options = tuple(f.name for f in dataclasses.fields(FetchOptions)
                         if f"fetch.{f.name}" not in BUILD_DOWNLOAD_RUN_OPTIONS)
    _FLAGS[:] = (flags.add_flags(p, FetchOptions, path=("download", "fetch"), skip=byte_options, group="network",
                                 aliases=ALIASES)
                 + flags.add_flags(p, DownloadOptions, path=("download",), recurse=False, group="workers",
                                   skip=("shard_size", "processes", "progress")))
    # Every other download option is the build's: refused by name, where it would otherwise go to Beam
    # unread (a --per-host-concurrency or --image-size that silently changed nothing).
    made = {flag.path for flag in _FLAGS}
    for path, f in flags.leaves(DownloadOptions, ("download",)):
        if path not in made and f.metadata.get("cli", True):
            name = (f.metadata.get("flag") or f.name).replace("_", "-")
            spellings = {f"--{name}", f"--{name.replace('-', '_')}", f"--no-{name}"}
            p.add_argument(*sorted(spellings), action=_BuildsOwn, dest=f"_build_{'_'.join(path)}")


class _BuildsOwn(argparse.Action):
    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs="?", help=argparse.SUPPRESS)

    def __call__(self, parser, namespace, values, option_string=None):
        parser.error(f"{option_string} is the build's, recorded in _wit_provenance.json: `wit shards` writes the "
                     "shards the build would (to change it, rebuild with `wit build --overwrite`)")


def download_options(output: str, args):
    """The build's recorded download options, with this command's run options."""
    import dataclasses

    from transforms.download.options import DownloadOptions, FetchOptions, ImageOptions, ManifestOptions
    from transforms.download.provenance import PROVENANCE
    from transforms.download.writer import Output

    recorded = Output(output).read_json(PROVENANCE)
    if not isinstance(recorded, dict) or recorded.get("command") != "build":
        raise ValueError(f"{output}/{PROVENANCE} is missing or not a build's: `wit shards` continues a `wit build`")
    options = recorded.get("options", {})

    def part(cls, prefix: str) -> dict:
        names = {f.name for f in dataclasses.fields(cls)}
        values = {key[len(prefix):]: value for key, value in options.items() if key.startswith(prefix)}
        return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items() if k in names}

    run = {flag.path[-1]: flags.value(flag, args) for flag in _FLAGS}
    fetch_names = {f.name for f in dataclasses.fields(FetchOptions)}
    fetch = FetchOptions(**{**part(FetchOptions, "download.fetch."),
                            **{k: v for k, v in run.items() if k in fetch_names}})
    return DownloadOptions(output=f"{output.rstrip('/')}/shards", shard_size=options.get("download.shard_size", 10_000),
                           processes=1, progress=False, decode_threads=run.get("decode_threads", 0),
                           image=ImageOptions(**part(ImageOptions, "download.image.")), fetch=fetch,
                           manifest=ManifestOptions(**part(ManifestOptions, "download.manifest.")))


def run(args) -> int:
    from wit_pipeline.pipeline import report, run_shards

    output = args.output.rstrip("/")
    summary = run_shards(output, download_options(output, args), list(args.extra_args))
    print(f"wit shards finished in {summary['seconds']} s")
    print(report(summary["stages"]))
    import fsspec
    with fsspec.open(f"{output}/shards_summary.json", "w") as f:
        json.dump(summary, f, indent=1)
    return 0
