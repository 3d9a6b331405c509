"""The main job, `wit build`: crawl files or manifests to a balanced corpus in WebDataset shards.

    candidates -> text rules -> language -> dedup -> query match -> [pilot download] -> balance
      -> balanced manifest (per shard, Parquet) -> download and write shards -> sizes.json
    every drop, with its stage and reason -> rejected/*.parquet;  per-query counts -> query_counts.parquet

Balancing comes last among the filters, so t caps the pool that ends up in the corpus (kept language,
unique pairs); language ID is cheap and removes most rows before the matching and the shuffles. With
--pilot-sample, a sample of the matched pool is downloaded first and heads are capped at t / its success
rate, so that about t of them survive link rot into the shards.

Output folder: shards/ (NNNNN.tar, .parquet, _stats.json, sizes.json), manifest/NNNNN.parquet, rejected/,
crawl_errors.json, query_counts.parquet, summary.json, and pilot.json with --pilot-sample. The same inputs,
options and seed give the same bytes on every runner (hash-derived draws and shards, sorted rows, fixed tar
metadata); a pilot download's result depends on the web that day, so it is recorded in pilot.json and a
resumed build balances with the recorded one.
"""
from __future__ import annotations

import json
import re
import time

import apache_beam as beam
import pyarrow as pa
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from transforms.balance.beam import Balance, WriteQueryCounts
from transforms.beam_util import BATCH_ROWS, WriteBucketedParquet, counter_values, write_table_atomically
from transforms.candidate import CANDIDATE_SCHEMA, REJECTED_SCHEMA
from transforms.crawl.beam import ReadCandidates
from transforms.crawl.inputs import candidates_at_most, expand_inputs
from transforms.dedup.beam import Dedup
from transforms.download.beam import AssignShards, DownloadShards, WriteSizes
from transforms.download import plan
from transforms.download.options import DownloadOptions
from transforms.download.pilot import PilotSurvival
from transforms.download.provenance import BUILD_DOWNLOAD_RUN_OPTIONS, fingerprint, option_values, prepare_output, \
    record
from transforms.download.writer import Output, written_files
from transforms.language.beam import IdentifyLanguage
from transforms.match.beam import MatchQueries
from transforms.match.query_list import detect_format
from transforms.text.beam import CleanText

from wit_pipeline.options import BuildConfig, parse_build_args
from wit_pipeline.verify import check_build, check_shards

MANIFEST_SCHEMA = pa.schema(list(CANDIDATE_SCHEMA) + [
    pa.field("raw_uid", pa.string()), pa.field("matched_queries", pa.list_(pa.int32())),
    pa.field("language", pa.string()), pa.field("language_confidence", pa.float64()),
    pa.field(plan.LANE, pa.int32()), pa.field(plan.LANES, pa.int32()),  # the download plan (plan.py)
])
# The url and text columns lead (the downloader's url and caption); the rest but the plan go into the shards.
SHARD_COLUMNS = ["url", "text"] + [n for n in MANIFEST_SCHEMA.names
                                   if n not in ("url", "text", plan.LANE, plan.LANES)]
GROUPS_FILE = "manifest/_groups.json"  # {group: [its shard ids]} and the number of groups, for `wit shards`
STAGES = ("crawl", "text", "language", "dedup", "match", "pilot", "balance", "download")
# BuildConfig fields that change how a build runs, never what it writes. The inputs and the query list are
# recorded as files instead; skip_download only stops early (a later run without it adds the shards).
# The per-host budget decides how many lanes, so which shards, a large host's rows go to (plan.py): in a build
# it is an option that changes the bytes, and `wit shards` keeps the build's.
_BUILD_RUN_OPTIONS = frozenset({"inputs", "output", "queries", "skip_download", "overwrite",
                                *(f"download.{name}" for name in BUILD_DOWNLOAD_RUN_OPTIONS)})
# What a build writes, per folder under its output ("" = the output itself; shards/ as `wit download` does).
PILOT_FILE = "pilot.json"
_BUILD_FILES = {"": re.compile(r"query_counts\.parquet|summary\.json|crawl_errors\.json|pilot\.json"),
                "manifest": re.compile(r"\d+\.parquet|_groups\.json"), "rejected": re.compile(r"part-\d+\.parquet")}


def write_manifest_shard(shard: tuple, output: str) -> str:
    shard_id, rows = shard
    return write_table_atomically(f"{output}/manifest/{shard_id:05d}.parquet", rows, MANIFEST_SCHEMA)


def write_groups(groups: list[tuple], path: str) -> str:
    n_groups = groups[0][1] if groups else 0
    return _write_json({"groups": n_groups, "shards": {str(g): ids for g, _, ids in sorted(groups)}}, path)


def build(p: beam.Pipeline, cfg: BuildConfig) -> None:
    """Add the whole job to pipeline `p`."""
    # Candidates go from stage to stage in batches (transforms.beam_util): Beam's per-element cost once per
    # batch, not once per candidate.
    reader = ReadCandidates(list(cfg.inputs), cfg.crawl, batch_rows=BATCH_ROWS)
    read = p | "ReadCandidates" >> reader
    text = read["candidates"] | "CleanText" >> CleanText(cfg.text)
    language = text["kept"] | "IdentifyLanguage" >> IdentifyLanguage(cfg.language)
    # Dedup's buckets sized from what the inputs can hold: counting the rows first would cost a pass over them.
    unique = language["kept"] | "Dedup" >> Dedup(cfg.dedup, rows=candidates_at_most(reader.units))
    matched = unique["kept"] | "MatchQueries" >> MatchQueries(cfg.queries)
    survival = None
    if cfg.balance.pilot_sample:
        survival = _pilot(p, matched["kept"], cfg)
    balanced = matched["kept"] | "Balance" >> Balance(cfg.balance, survival)
    groups = balanced["kept"] | "AssignShards" >> AssignShards(cfg.download.shard_size,
                                                                cfg.download.fetch.per_host_concurrency)
    groups | "Shards" >> beam.FlatMapTuple(lambda g, n, shards: shards) | "WriteManifest" >> beam.Map(
        write_manifest_shard, cfg.output)
    (groups | "ShardIds" >> beam.MapTuple(lambda g, n, shards: (g, n, [i for i, _ in shards]))
     | "AllGroups" >> beam.combiners.ToList() | "WriteGroups" >> beam.Map(write_groups, f"{cfg.output}/{GROUPS_FILE}"))
    if not cfg.skip_download:
        stats = groups | "DownloadShards" >> DownloadShards(cfg.download, SHARD_COLUMNS)
        stats | "WriteSizes" >> WriteSizes(cfg.shards)
    balanced["query_counts"] | "WriteQueryCounts" >> WriteQueryCounts(f"{cfg.output}/query_counts.parquet",
                                                                      cfg.queries)
    rejected = ((text["rejected"], language["rejected"], unique["rejected"], matched["rejected"],
                 balanced["rejected"]) | "AllRejected" >> beam.Flatten())
    rejected | "WriteRejected" >> WriteBucketedParquet(
        f"{cfg.output}/rejected/part", REJECTED_SCHEMA, key=lambda r: r["uid"] or "",
        sort_key=lambda r: (r["uid"] or "", r["stage"], r["reason"], r["source"] or ""))
    read["errors"] | "WriteCrawlErrors" >> beam.combiners.ToList() | beam.Map(
        _write_json, f"{cfg.output}/crawl_errors.json")


def _pilot(p: beam.Pipeline, pool, cfg: BuildConfig):
    """The link survival heads are balanced with: measured by a pilot download of the pool and recorded in
    pilot.json, or read from there when this output already has one (a resumed build must balance as the
    first run did, or its complete shards would hold other rows)."""
    path = f"{cfg.output}/{PILOT_FILE}"
    if FileSystems.exists(path):
        survival = _read_recorded(path, lambda r: float(r["survival"]))
        return p | "RecordedPilot" >> beam.Create([survival])
    result = pool | "PilotDownload" >> PilotSurvival(cfg.balance.pilot_sample, cfg.balance.seed, cfg.download)
    result | "WritePilot" >> beam.Map(lambda r: _write_json(r, path))
    return result | "Survival" >> beam.Map(lambda r: r["survival"])


def _read_recorded(path: str, take):
    """take(the JSON a build recorded at `path`), or a one-line error naming the file."""
    try:
        with FileSystems.open(path) as f:
            return take(json.loads(f.read()))
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"{path} is damaged ({type(e).__name__}: {e}): rebuild with `wit build --overwrite`") \
            from None


def build_provenance(cfg: BuildConfig) -> dict:
    """The record of what makes this build's output (see transforms.download.provenance)."""
    # Remote crawl files are recorded by name: fingerprinting thousands of them would cost round trips each,
    # and Common Crawl never changes a file under its name. Local files and the query list by content.
    crawl_files = [path for path, _ in expand_inputs(cfg.inputs, cfg.crawl)]
    inputs = [fingerprint(path, content="://" not in path or path.startswith("file://")) for path in crawl_files]
    return record("build", inputs + [fingerprint(cfg.queries)], option_values(cfg, _BUILD_RUN_OPTIONS))


def written_by_build(cfg: BuildConfig) -> list[str]:
    found = written_files(Output(cfg.shards))
    for folder, names in _BUILD_FILES.items():
        found += written_files(Output(f"{cfg.output}/{folder}".rstrip("/")), names)
    return found


def _write_json(rows: list | dict, path: str) -> str:
    if isinstance(rows, list):
        rows = sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))
    with FileSystems.create(path) as f:
        f.write(json.dumps(rows, indent=1, default=str).encode())
    return path


def summarise(result) -> dict:
    """Beam counters wit.<stage>/<name> -> {stage: {name: value}}, stages in pipeline order."""
    out = {namespace[4:]: values for namespace, values in counter_values(result, "wit.").items()}
    return {s: dict(sorted(out[s].items())) for s in sorted(out, key=lambda s: (STAGES + (s,)).index(s))}


def report(summary: dict) -> str:
    lines = []
    for stage, counters in summary.items():
        lines.append(f"  {stage:9s} " + ", ".join(f"{k} {v}" for k, v in counters.items()))
    return "\n".join(lines)


def read_manifest_shard(path: str) -> tuple[int, list[dict]]:
    """One manifest/NNNNN.parquet of a build: (its shard id, its rows, sorted by uid as written)."""
    import pyarrow.parquet as pq

    with FileSystems.open(path) as f:
        rows = pq.read_table(f).to_pylist()
    return read_shard_id(path), rows


def read_shard_id(path: str) -> int:
    return int(path.rstrip("/").rsplit("/", 1)[-1].split(".", 1)[0])


def run_shards(output: str, download: DownloadOptions, beam_args: list[str]) -> dict:
    """The download stage alone, from a finished build's manifest/: the same shards, tars, Parquet, stats and
    sizes.json that `wit build` writes, on a cluster of its own (a few workers for days, where curation
    wanted a hundred for hours), in the build's groups, so the per-host budget holds as in the build.
    Complete shards are skipped, as in a build."""
    options = _beam_options(beam_args)
    manifests = sorted(m.path for m in FileSystems.match([f"{output}/manifest/*.parquet"])[0].metadata_list)
    if not manifests:
        raise ValueError(f"no manifest/*.parquet in {output}: run `wit build` there first (--skip-download "
                         "stops it before the images)")
    groups_path = f"{output}/{GROUPS_FILE}"
    if not FileSystems.exists(groups_path):
        raise ValueError(f"no {GROUPS_FILE} in {output}: it was built before host-aware shards; rebuild it "
                         "with `wit build --overwrite`")
    by_id = {read_shard_id(path): path for path in manifests}
    groups = _read_recorded(groups_path, lambda r: [
        (int(g), int(r["groups"]), [by_id[int(i)] for i in ids if int(i) in by_id])
        for g, ids in sorted(r["shards"].items(), key=lambda kv: int(kv[0]))])
    start = time.monotonic()
    p = beam.Pipeline(options=options)
    stats = (p | "Groups" >> beam.Create(groups) | "Spread" >> beam.Reshuffle()
             | "ReadManifests" >> beam.MapTuple(lambda g, n, paths: (g, n, [read_manifest_shard(x) for x in paths]))
             | "DownloadShards" >> DownloadShards(download, SHARD_COLUMNS))
    stats | "WriteSizes" >> WriteSizes(download.output)
    result = p.run()
    result.wait_until_finish()
    summary = {"seconds": round(time.monotonic() - start, 1), "stages": summarise(result)}
    check_shards(output, summary["stages"])
    return summary


def run(argv: list[str]) -> dict:
    """`wit build` from its command line: wit's flags, the rest Beam's."""
    return run_config(*parse_build_args(argv))


def _beam_options(beam_args: list[str]) -> PipelineOptions:
    options = PipelineOptions(beam_args)
    standard = options.view_as(StandardOptions)
    if not standard.runner:  # Beam's default would try to download Prism first; the embedded runner is here
        standard.runner = "FnApiRunner"
    return options


def run_config(cfg: BuildConfig, beam_args: list[str]) -> dict:
    options = _beam_options(beam_args)
    if not FileSystems.exists(cfg.queries):  # fail before any work, not inside a worker
        raise ValueError(f"no query list at {cfg.queries}")
    detect_format(cfg.queries)  # a name we cannot read as a query list is refused here too
    if cfg.against and cfg.skip_download:
        raise ValueError("--against cleans the downloaded shards: with --skip-download there are none (run wit "
                         "filter --against on the shards later)")
    dry_run = options.get_all_options().get("dry_run")  # Dataflow's translation check: nothing runs or is written
    if not dry_run:  # resume only an output made the same way (complete shards are skipped)
        prepare_output(Output(cfg.output), build_provenance(cfg), lambda _: written_by_build(cfg), cfg.overwrite)
    start = time.monotonic()
    p = beam.Pipeline(options=options)
    build(p, cfg)
    result = p.run()
    result.wait_until_finish()
    summary = {"seconds": round(time.monotonic() - start, 1), "stages": summarise(result)}
    if dry_run:
        return summary
    with FileSystems.create(f"{cfg.output}/summary.json") as f:
        f.write(json.dumps(summary, indent=1).encode())
    # A run that did not do its work fails here.
    check_build(cfg.output, summary["stages"], cfg.skip_download, pilot=cfg.balance.pilot_sample > 0)
    if cfg.against and not cfg.skip_download:
        # After the shards are complete: a re-run keeps them and checks them again (the copies already gone).
        from wit_pipeline.curate.decontaminate import clean_in_place

        summary["decontaminate"] = clean_in_place(cfg.shards, cfg.against, cfg.against_max_distance)
        with FileSystems.create(f"{cfg.output}/summary.json") as f:
            f.write(json.dumps(summary, indent=1).encode())
    return summary
