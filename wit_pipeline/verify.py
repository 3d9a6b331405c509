"""A run that did not do its work is not a success: after `wit build`, check that every output the job must
write is there and that the counters add up, and say what is wrong when they do not.

On a runner that runs the pipeline only in part, or reports no counters (Beam's DaskRunner wrote only
crawl_errors.json and an empty summary, and exited 0), the build fails here instead of looking finished.
"""
from __future__ import annotations

import json

import fsspec
import pyarrow.parquet as pq

# Stages whose counters must balance: in = out + every dropped.<reason>, in the build's order.
FILTERS = ("text", "language", "dedup", "match", "balance")
# Each stage's input is the stage before it's output.
CHAIN = (("crawl", "candidates", "text", "in"),
         *((before, "out", after, "in") for before, after in zip(FILTERS, FILTERS[1:])))


class RunCheckError(ValueError):
    """The build finished without doing all of its work: the message lists what is missing or off."""


def _dropped(counters: dict, prefix: str = "dropped.") -> int:
    return sum(v for k, v in counters.items() if k.startswith(prefix))


BUILD = ("crawl", *FILTERS, "download")


def counter_problems(stages: dict, skip_download: bool, stages_run: tuple = BUILD,
                     unique: int | None = None) -> list[str]:
    """What does not add up in a run's counters ({stage: {name: value}}). `stages_run`: the stages the run
    had (the whole build, or the download alone, fed `unique` manifest rows)."""
    if not stages.get(stages_run[0]) and not (stages_run[0] == "download" and unique == 0):
        return ["the runner reported no counters (nothing ran, or the runner does not report Beam metrics)"]
    problems = []
    get = lambda stage, name: stages.get(stage, {}).get(name, 0)  # noqa: E731 (a counter never incremented is 0)
    if "crawl" in stages_run:
        for stage in FILTERS:
            ins, outs, dropped = get(stage, "in"), get(stage, "out"), _dropped(stages.get(stage, {}))
            if ins != outs + dropped:
                problems.append(f"{stage}: in {ins} != out {outs} + dropped {dropped}")
        for before, out_name, after, in_name in CHAIN:
            if get(before, out_name) != get(after, in_name):
                problems.append(f"{after}: in {get(after, in_name)} != {before} {out_name} {get(before, out_name)}")
        unique = get(FILTERS[-1], "out")
    if not skip_download:
        rows = get("download", "rows")
        if rows != unique:
            problems.append(f"download: rows {rows} != manifest rows {unique}")
        if rows != get("download", "success") + _dropped(stages.get("download", {}), "failed."):
            problems.append(f"download: rows {rows} != success {get('download', 'success')} + failed "
                            f"{_dropped(stages.get('download', {}), 'failed.')}")
    return problems


def output_problems(output: str, stages: dict, skip_download: bool, stages_run: tuple = BUILD,
                    unique: int | None = None, pilot: bool = False) -> list[str]:
    """What is missing from a run's output folder, or disagrees with its counters (`pilot`: the build was
    asked for a pilot download, whose pilot.json must be there)."""
    fs, root = fsspec.core.url_to_fs(output)
    root = root.rstrip("/")
    problems = []
    if "crawl" in stages_run:
        names = ("query_counts.parquet", "crawl_errors.json") + (("pilot.json",) if pilot else ())
        problems += [f"{name} is missing" for name in names if not fs.exists(f"{root}/{name}")]
        unique = stages.get(FILTERS[-1], {}).get("out", 0)
        manifest_rows = _parquet_rows(fs, f"{root}/manifest/*.parquet")
        if manifest_rows != unique:
            problems.append(f"manifest/: {manifest_rows} rows, but {FILTERS[-1]} kept {unique}")
        dropped = sum(_dropped(stages.get(stage, {})) for stage in FILTERS)
        rejected_rows = _parquet_rows(fs, f"{root}/rejected/part-*.parquet")
        if rejected_rows != dropped:
            problems.append(f"rejected/: {rejected_rows} rows, but the stages dropped {dropped}")
    if not skip_download:
        shard_rows = _parquet_rows(fs, f"{root}/shards/[0-9]*.parquet")
        if shard_rows != unique:
            problems.append(f"shards/: {shard_rows} Parquet rows, but the manifest has {unique}")
        sizes = f"{root}/shards/sizes.json"
        if not fs.exists(sizes):
            problems.append("shards/sizes.json is missing")
        else:
            with fs.open(sizes, "rb") as f:
                stored = sum(json.loads(f.read()).values())
            success = stages.get("download", {}).get("success", 0)
            if stored != success:
                problems.append(f"shards/sizes.json counts {stored} images, but {success} were downloaded")
    return problems


def _parquet_rows(fs, pattern: str) -> int:
    return sum(pq.ParquetFile(fs.open(path, "rb")).metadata.num_rows for path in fs.glob(pattern))


def check_shards(output: str, stages: dict) -> None:
    """After the download stage alone (`wit shards`): every manifest row is in a shard, sizes.json agrees."""
    fs, root = fsspec.core.url_to_fs(output)
    manifest_rows = _parquet_rows(fs, f"{root.rstrip('/')}/manifest/*.parquet")
    problems = counter_problems(stages, skip_download=False, stages_run=("download",), unique=manifest_rows)
    if not problems:
        problems = output_problems(output, stages, skip_download=False, stages_run=("download",),
                                   unique=manifest_rows)
    if problems:
        raise RunCheckError(f"the shards of {output} are not all there: " + "; ".join(problems))


def check_build(output: str, stages: dict, skip_download: bool, pilot: bool = False) -> None:
    """Raise RunCheckError naming every problem, or return when the build did all of its work."""
    problems = counter_problems(stages, skip_download)
    if not problems:
        problems = output_problems(output, stages, skip_download, pilot=pilot)
    if problems:
        raise RunCheckError(f"the build in {output} did not do all of its work: " + "; ".join(problems))
