"""Write a new corpus without some samples: the rewrite behind `wit filter` and `wit decontaminate --output`.

`write_filtered(corpus, output, drops, settings=...)` copies every shard of CORPUS into OUTPUT (a shards folder,
like `wit download` writes) in the downloader's layout, leaving out the samples whose keys are in `drops`:
- `NNNNN.tar`: the kept samples, their members byte for byte in the input's order, with fixed tar metadata;
- `NNNNN.parquet`: every row of the input shard's Parquet, the same columns and types, where a dropped sample's
  row has `status` = its reason (`low_clip_score`, `eval_overlap`, ...) and `error_message` = its message, as
  a failed download's row has (input shards without a Parquet get one made from their tar: key, url, caption,
  status, error_message, sizes and sha256 from each sample's .json where it has them);
- `NNNNN_stats.json` last (the downloader's fields, plus `input_successes` and `dropped` per reason), then
  `sizes.json` ({"NNNNN.tar": kept samples}).
Keys stay the input's, so scores and other per-key files still name the same samples.

Deterministic: the same inputs and drops give the same bytes. Resumable like the downloader: OUTPUT records
what made it (`_wit_provenance.json`: the input shards, the caller's settings and a digest of the drops); a
re-run with the same keeps its complete shards and redoes the others; one with other inputs, settings or drops
is refused (ValueError, one line) unless `overwrite`, which empties OUTPUT first. A shard's tar and Parquet
must agree (each success row's sample in the tar and nothing else): a corpus where they do not is refused,
never half copied.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import posixpath
import re
import shutil
import tarfile
from collections import Counter
from collections.abc import Mapping

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from transforms.download.provenance import PROVENANCE, prepare_output, record
from transforms.download.writer import OUTPUT_COLUMNS, STATS_SUFFIX, Output, tar_info
from wit_pipeline.curate.corpus import (CAPTION_EXT, Shard, file_size, find_shards, iter_samples,
                                        members_by_ext)

SUCCESS = "success"
# What a rewrite writes into its output, by name: what a re-run may keep and overwrite removes.
_WRITTEN = re.compile(r".+(\.tar|\.parquet|_stats\.json)|sizes\.json")
_INT_COLUMNS = ("width", "height", "original_width", "original_height")


def write_filtered(corpus: str, output: str, drops: Mapping[str, tuple[str, str]], *, settings: dict,
                   overwrite: bool = False) -> dict:
    """Copy CORPUS into OUTPUT without the samples whose keys are in `drops` (key -> (status reason, message));
    `settings` (JSON-serialisable; a "command" entry names the wit command, for messages) is recorded so a
    re-run with others is refused. Returns a summary: shards, skipped_shards, rows, input_successes, kept,
    dropped {reason: samples}, drops_not_found (keys in `drops` that are no successful sample of CORPUS)."""
    shards = find_shards(corpus)
    out = Output(output)
    _refuse_input_folder(shards, out)
    command = str(settings.get("command") or "rewrite")
    old = out.read_json(PROVENANCE)
    if isinstance(old, dict) and old.get("command") != command:
        raise ValueError(f"{output} holds the output of wit {old.get('command')}: choose another folder "
                         f"for wit {command}'s corpus")
    out.makedirs()
    # One entry per setting, so a refusal names what changed (`keep_fraction 0.7 -> 0.5`); their names too, as
    # provenance compares only the entries both runs have.
    options = {**json.loads(json.dumps(settings, default=str)), "settings": sorted(settings),
               "dropped_samples": drops_digest(drops)}
    prepare_output(out, record(command, [_identity(s) for s in shards], options),
                   lambda o: _written(o), overwrite)
    summary = {"output": output, "shards": len(shards), "skipped_shards": 0, "rows": 0, "input_successes": 0,
               "kept": 0, "dropped": Counter()}
    sizes = {}
    for shard in shards:
        stats = _complete_stats(out, shard.name)
        if stats is not None:
            summary["skipped_shards"] += 1
        else:
            stats = _rewrite_shard(shard, out, drops)
        summary["rows"] += stats["count"]
        summary["input_successes"] += stats["input_successes"]
        summary["kept"] += stats["successes"]
        summary["dropped"].update(stats["dropped"])
        sizes[f"{shard.name}.tar"] = stats["successes"]
    out.write_small("sizes.json", json.dumps(sizes, indent=1).encode())
    if out.is_local:  # staging left by a killed run
        shutil.rmtree(out.path("_tmp"), ignore_errors=True)
    summary["drops_not_found"] = len(drops) - sum(summary["dropped"].values())
    summary["dropped"] = dict(sorted(summary["dropped"].items()))
    return summary


def drop_in_place(folder: str, drops_by_shard: Mapping[str, Mapping[str, tuple[str, str]]]) -> dict:
    """Rewrite, in a shards folder, each named shard (`00000`) without its dropped samples (their Parquet rows
    get the reason as status), then sizes.json: for a build's own output (`wit build --against`), where a second
    copy of the corpus is not wanted. Each shard goes through a staging file and a rename, its stats last, as
    the downloader writes them, so a killed run leaves every shard whole (old or new). {reason: samples}."""
    out = Output(folder)
    dropped = Counter()
    by_name = {s.name: s for s in find_shards(folder)}
    for name, drops in sorted(drops_by_shard.items()):
        if drops:
            dropped.update(_rewrite_shard(by_name[name], out, drops)["dropped"])
    if dropped:
        sizes = out.read_json("sizes.json")
        sizes = sizes if isinstance(sizes, dict) else {}
        for name in by_name:
            stats = out.read_json(name + STATS_SUFFIX)
            if isinstance(stats, dict) and "successes" in stats:
                sizes[f"{name}.tar"] = stats["successes"]
        out.write_small("sizes.json", json.dumps(dict(sorted(sizes.items())), indent=1).encode())
    return dict(sorted(dropped.items()))


def drops_digest(drops: Mapping[str, tuple[str, str]]) -> str:
    """How many drops and a digest of them that does not depend on their order (a sum of per-drop hashes
    modulo 2**128): the same drops give the same digest without sorting millions of keys."""
    total = 0
    for key, (reason, message) in drops.items():
        item = "\x00".join((str(key), str(reason), str(message or ""))).encode("utf-8", "surrogatepass")
        total = (total + int.from_bytes(hashlib.blake2b(item, digest_size=16).digest(), "big")) % (1 << 128)
    return f"{len(drops)} (digest {total:032x})"


def _written(out: Output) -> list[str]:
    try:
        paths = out.fs.ls(out.root, detail=False)
    except FileNotFoundError:
        return []
    return sorted(p for p in paths if _WRITTEN.fullmatch(posixpath.basename(p.rstrip("/"))))


def _refuse_input_folder(shards: list[Shard], out: Output) -> None:
    folders = {posixpath.dirname(fsspec.core.url_to_fs(s.url)[1]) for s in shards}
    roots = folders | {posixpath.dirname(f) for f in folders if posixpath.basename(f) == "shards"}
    if out.root in roots:
        raise ValueError(f"{out.url} is where the input corpus lies: write the new corpus to another folder")


def _identity(shard: Shard) -> dict:
    """The input shard's entry in the provenance: cheap at any scale (no read of the tar): the sizes of its tar
    and Parquet and a hash of its _stats.json, which a rebuilt shard changes; without a _stats.json, a hash of
    the ends of the tar (transforms.download.provenance.fingerprint's rule)."""
    from transforms.download.provenance import fingerprint

    sizes = [file_size(shard.url), file_size(shard.beside(".parquet"))]
    if sizes[0] is None:
        raise ValueError(f"{shard.url}: no such shard")
    stats = shard.beside(STATS_SUFFIX)
    if file_size(stats) is not None:
        with fsspec.open(stats, "rb") as f:
            sample = hashlib.blake2b(f.read(), digest_size=16).hexdigest()
    else:
        sample = fingerprint(shard.url)["sample"]
    return {"path": shard.url, "bytes": sizes, "sample": sample}


def _complete_stats(out: Output, name: str) -> dict | None:
    """The stats of a complete output shard (its stats file, and the files it lists at their sizes)."""
    stats = out.read_json(name + STATS_SUFFIX)
    if not isinstance(stats, dict) or not isinstance(stats.get("files"), dict) or "dropped" not in stats:
        return None
    if all(out.size(n) == meta.get("bytes") for n, meta in stats["files"].items()):
        return {**stats, "skipped": True}
    return None


def _rewrite_shard(shard: Shard, out: Output, drops: Mapping[str, tuple[str, str]]) -> dict:
    name = shard.name
    table = _read_rows(shard)
    staging = out.staging_dir()
    try:
        tar_local = os.path.join(staging, name + ".tar")
        in_tar, kept, made = [], set(), []
        with open(tar_local, "wb") as raw, tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            for key, members in iter_samples(shard.url):
                in_tar.append(key)
                if table is None:  # its rows are made from the small members only
                    made.append((key, {e: d for e, d in members_by_ext(members).items() if e in ("json", "txt")}))
                if key in drops:
                    continue
                kept.add(key)
                for member, data in members:
                    tar.addfile(tar_info(member, len(data)), io.BytesIO(data))
        if table is None:
            table = _rows_from_tar(made)
        table, dropped = _mark_drops(table, drops)
        statuses = table.column("status").to_pylist()
        keys = table.column("key").to_pylist()
        successes = {k for k, s in zip(keys, statuses) if s == SUCCESS}
        _check_agree(shard, successes, kept, in_tar)
        parquet_local = os.path.join(staging, name + ".parquet")
        pq.write_table(table, parquet_local, compression="zstd")
        files = {f"{name}.tar": {"bytes": os.path.getsize(tar_local)},
                 f"{name}.parquet": {"bytes": os.path.getsize(parquet_local)}}
        out.publish(tar_local, f"{name}.tar")
        out.publish(parquet_local, f"{name}.parquet")
        counts = Counter(statuses)
        errors = Counter(m for s, m in zip(statuses, table.column("error_message").to_pylist()) if s != SUCCESS)
        stats = {"shard": int(name) if name.isdigit() else name, "count": len(statuses),
                 "successes": counts.get(SUCCESS, 0), "failed": len(statuses) - counts.get(SUCCESS, 0),
                 "status_counts": dict(sorted(counts.items())),
                 "error_counts": dict(sorted(errors.items(), key=lambda kv: (-kv[1], str(kv[0])))),
                 "files": files, "input_successes": counts.get(SUCCESS, 0) + sum(dropped.values()),
                 "dropped": dict(sorted(dropped.items()))}
        out.write_bytes(name + STATS_SUFFIX, json.dumps(stats, indent=1, sort_keys=True).encode(), staging)
        return stats
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _read_rows(shard: Shard) -> pa.Table | None:
    """The shard's Parquet (every row), or None when it has none."""
    if file_size(shard.beside(".parquet")) is None:
        return None
    try:
        with fsspec.open(shard.beside(".parquet"), "rb") as f:
            table = pq.read_table(f)
    except (pa.ArrowException, OSError) as e:
        raise ValueError(f"{shard.beside('.parquet')}: cannot read it: {' '.join(str(e).split())}") from None
    missing = [c for c in ("key", "status", "error_message") if c not in table.column_names]
    if missing:
        raise ValueError(f"{shard.beside('.parquet')}: no {', '.join(missing)} column (not a shard Parquet)")
    return table


def _rows_from_tar(samples: list[tuple[str, dict]]) -> pa.Table:
    """A shard Parquet for a tar without one: every sample a success, its fields from its .json and .txt."""
    rows = []
    for key, sample in samples:
        try:
            meta = json.loads(sample["json"]) if "json" in sample else {}
        except ValueError:
            meta = {}
        meta = meta if isinstance(meta, dict) else {}
        caption = sample[CAPTION_EXT].decode("utf-8", "replace") if CAPTION_EXT in sample else meta.get("caption")
        row = {c: meta.get(c) for c in OUTPUT_COLUMNS}
        row.update(key=key, caption=caption, status=SUCCESS, error_message=None)
        rows.append(row)
    types = {c: pa.int32() if c in _INT_COLUMNS else pa.string() for c in OUTPUT_COLUMNS}
    columns = {}
    for c in OUTPUT_COLUMNS:
        values = [r[c] for r in rows]
        if c in _INT_COLUMNS:
            values = [v if isinstance(v, int) and not isinstance(v, bool) else None for v in values]
        else:
            values = [v if v is None or isinstance(v, str) else str(v) for v in values]
        columns[c] = pa.array(values, types[c])
    return pa.table(columns)


def _mark_drops(table: pa.Table, drops: Mapping[str, tuple[str, str]]) -> tuple[pa.Table, Counter]:
    """The table with each dropped success row's status and error_message set; samples dropped per reason."""
    keys = table.column("key").to_pylist()
    statuses = table.column("status").to_pylist()
    messages = table.column("error_message").to_pylist()
    dropped = Counter()
    for i, (key, status) in enumerate(zip(keys, statuses)):
        if status == SUCCESS and key in drops:
            reason, message = drops[key]
            statuses[i], messages[i] = str(reason), message
            dropped[str(reason)] += 1
    for name, values in (("status", statuses), ("error_message", messages)):
        at = table.column_names.index(name)
        table = table.set_column(at, table.schema.field(at), pa.array(values, table.schema.field(at).type))
    return table, dropped


def _check_agree(shard: Shard, successes: set, kept: set, in_tar: list) -> None:
    """Each success row's sample is in the tar (kept), and every sample kept has a success row."""
    if successes == kept and len(in_tar) == len(set(in_tar)):
        return
    where = f"{shard.url} and {shard.beside('.parquet')}"
    repeated = [k for k, n in Counter(in_tar).items() if n > 1]
    if repeated:
        raise ValueError(f"{shard.url}: sample {repeated[0]} appears more than once in the tar")
    missing = sorted(successes - kept)
    if missing:
        raise ValueError(f"{where} disagree: {len(missing)} success row(s) without a sample in the tar, e.g. "
                         f"{missing[0]}")
    extra = sorted(kept - successes)
    raise ValueError(f"{where} disagree: {len(extra)} sample(s) in the tar without a success row, e.g. {extra[0]}")
