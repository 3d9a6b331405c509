"""The stage cores of `wit build`, in plain Python without Beam, over the same input and options: the floor
that curation in Beam is measured against (benchmarks/pipeline.py --curation-cost).

Run as `python benchmarks/_stage_cores.py OUT WIT_BUILD_ARGS...` in a process of its own: it parses the same
`wit build` command line, does every stage's work on every candidate the way the Beam wrappers call the
cores (read the input, text rules, language ID in slices of BATCH, dedup per URL, matching in batches, the
balancing counts and draws, the host plan and shard split, the manifest, rejected/ and query_counts files
written through the same writers) and writes them under OUT, so the caller can check that they are the bytes
the pipeline wrote: the same work, not a shortcut. Prints one JSON line: CPU seconds (time.process_time) per
stage, the models' set-up apart (Beam loads them once per worker too; they are start-up, not per candidate).
"""
from __future__ import annotations

import json
import math
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from transforms.balance.beam import QUERY_COUNTS_SCHEMA, _count_rows  # noqa: E402
from transforms.balance.core import decide, keep_probability  # noqa: E402
from transforms.beam_util import write_table_atomically  # noqa: E402
from transforms.candidate import REJECTED_SCHEMA, rejected  # noqa: E402
from transforms.crawl.inputs import expand_inputs  # noqa: E402
from transforms.crawl.read import read_file  # noqa: E402
from transforms.dedup.core import dedup_rows  # noqa: E402
from transforms.download import plan  # noqa: E402
from transforms.files import bucket_of  # noqa: E402
from transforms.language.base import BATCH  # noqa: E402
from transforms.language.registry import make_identifier  # noqa: E402
from transforms.match.core import QueryMatcher  # noqa: E402
from transforms.match.query_list import load_queries  # noqa: E402
from transforms.text.core import clean  # noqa: E402
from wit_pipeline.options import parse_build_args  # noqa: E402
from wit_pipeline.pipeline import write_manifest_shard  # noqa: E402

REJECTED_ROWS_PER_FILE = 200_000  # WriteBucketedParquet's default, as the pipeline writes rejected/


def main(out: str, argv: list[str]) -> dict:
    cfg, _ = parse_build_args(argv + ["--output", out])
    seconds: dict[str, float] = {}
    clock = time.process_time

    start = clock()
    lang = cfg.language
    identifier = make_identifier(lang.backend, lang.candidates, lang.prior_map, words=lang.use_words,
                                 fit=lang.use_fit)
    queries = load_queries(cfg.queries)
    matcher = QueryMatcher(queries)
    seconds["setup (models, not per candidate)"] = clock() - start

    def timed(stage):
        seconds[stage] = clock() - timed.start
        timed.start = clock()

    timed.start = clock()
    rows = [row for path, kind in expand_inputs(list(cfg.inputs), cfg.crawl)
            for row in read_file(path, kind, cfg.crawl)]
    n_candidates = len(rows)
    timed("read")

    dropped: list[dict] = []
    kept = []
    for row in rows:
        out_row, verdict = clean(row, cfg.text)
        if verdict is None:
            kept.append(out_row)
        else:
            dropped.append(rejected(row, "text", *verdict))
    rows = kept
    timed("text")

    kept = []
    for i in range(0, len(rows), BATCH):
        part = rows[i:i + BATCH]
        for row, (language, confidence, note) in zip(part, identifier.explain_many([r["text"] for r in part])):
            confidence = round(confidence, 4)
            verdict = lang.verdict(language, confidence, note or "")
            if verdict is None:
                kept.append({**row, "language": language, "language_confidence": confidence})
            else:
                dropped.append(rejected(row, "language", *verdict))
    rows = kept
    timed("language")

    rows, losers, _ = dedup_rows(rows, cfg.dedup.captions_per_url)
    dropped += [rejected(loser, "dedup", reason, f"kept {uid}") for loser, reason, uid in losers]
    timed("dedup")

    kept = []
    for i in range(0, len(rows), 1000):
        part = rows[i:i + 1000]
        for row, ids in zip(part, matcher.match_many(r["text"] for r in part)):
            if ids:
                kept.append({**row, "matched_queries": ids})
            else:
                dropped.append(rejected(row, "match", "no_query_match"))
    rows = kept
    timed("match")

    options = cfg.balance
    if options.pilot_sample:
        raise SystemExit("the stage cores do not download: run the curation cost without --pilot-sample")
    before = Counter(q for row in rows for q in row["matched_queries"])
    target = options.target(None)
    kept = []
    for row in rows:
        ids = row["matched_queries"]
        if decide(row["uid"], ids, before, options, None):
            kept.append(row)
        else:
            p = min(keep_probability(before[q], target) for q in ids)
            dropped.append(rejected(row, "balance", "balanced_out",
                                    f"{len(ids)} head queries, smallest keep probability {p:.4g}"))
    rows = kept
    after = Counter(q for row in rows for q in row["matched_queries"])
    query_counts = [{**row, "query": queries[row["query_id"]]} for row in _count_rows(before, after, options)]
    timed("balance")

    size, budget = cfg.download.shard_size, cfg.download.fetch.per_host_concurrency
    hosted = [(plan.host_of(row.get("url")), row) for row in rows]
    hosts = Counter(host for host, _ in hosted)
    big = {host: n for host, n in hosts.items() if n > plan.lane_rows(size)}
    n_groups = plan.n_groups(len(rows), size)
    groups: dict[int, list[dict]] = {}
    for host, row in hosted:
        group, planned = plan.plan_row(host, row, big, n_groups, size, budget)
        groups.setdefault(group, []).append(planned)
    offsets = plan.shard_offsets(((g, len(r)) for g, r in groups.items()), size)
    shards = [shard for g, group_rows in groups.items() for shard in plan.split_group(g, group_rows, offsets[g], size)]
    timed("shards")

    Path(out, "manifest").mkdir(parents=True, exist_ok=True)
    Path(out, "rejected").mkdir(parents=True, exist_ok=True)
    for shard in shards:
        write_manifest_shard(shard, out)
    files = max(1, math.ceil(len(dropped) / REJECTED_ROWS_PER_FILE))
    buckets: dict[int, list[dict]] = {}
    for row in dropped:
        buckets.setdefault(bucket_of(row["uid"] or "", files), []).append(row)
    for i, bucket in buckets.items():
        write_table_atomically(f"{out}/rejected/part-{i:05d}.parquet", sorted(
            bucket, key=lambda r: (r["uid"] or "", r["stage"], r["reason"], r["source"] or "")), REJECTED_SCHEMA)
    write_table_atomically(f"{out}/query_counts.parquet", sorted(query_counts, key=lambda r: r["query_id"]),
                           QUERY_COUNTS_SCHEMA)
    timed("write")
    return {"candidates": n_candidates, "manifest_rows": len(rows), "rejected_rows": len(dropped),
            "seconds": {k: round(v, 4) for k, v in seconds.items()}}


if __name__ == "__main__":
    print("CORES " + json.dumps(main(sys.argv[1], sys.argv[2:])), flush=True)
