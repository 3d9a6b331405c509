"""What made an output folder, recorded in it as `_wit_provenance.json`, so that a re-run resumes only into an
output made from the same inputs with the same options, and refuses otherwise (or, with overwrite, starts
afresh): complete shards are skipped on a re-run, so without this check they would silently keep old bytes.

The record (JSON, written atomically before any shard, the same bytes for the same run):
    {"wit_provenance": 1, "command": "download",
     "inputs": [{"path": "m.parquet", "bytes": 1234, "sample": "<blake2b of the first and last MiB>"}, ...],
     "options": {"image.image_size": 256, "manifest.url_col": "url", "shard_size": 10000, ...}}

Inputs are fingerprinted by size plus a hash of their first and last MiB: not by modification time (a copy
or a `touch` changes it without changing a byte, and not every fsspec backend reports it), not by a full
hash (a full read of a manifest that can be many GB). Size and both ends catch a replaced, re-generated,
appended or truncated file; only an edit of the middle that keeps the size escapes. The path is kept for
the messages only: the same bytes under another name are the same input.

Options are every field of the options dataclasses, nested ones flattened to dotted names, minus an explicit
list of those that change how fast or how politely an output is made but never its bytes: a new option is
recorded by default, without anyone remembering to add it here.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable

import fsspec

from .writer import Output

PROVENANCE = "_wit_provenance.json"
VERSION = 1
# DownloadOptions fields that never change the bytes of an output. Timeouts and retries change which rows
# succeed only on a flaky network, as any re-run may; the user agent is who we are, not what we write.
DOWNLOAD_RUN_OPTIONS = frozenset({
    "output", "processes", "decode_threads", "progress",
    "fetch.concurrency", "fetch.per_host_concurrency", "fetch.connect_timeout", "fetch.read_timeout",
    "fetch.total_timeout", "fetch.attempt_timeout", "fetch.retries", "fetch.backoff", "fetch.max_retry_after",
    "fetch.user_agent", "fetch.per_host_rate",
})
# In a Beam build the per-host budget decides which shards a large host's rows go to (plan.py).
BUILD_DOWNLOAD_RUN_OPTIONS = DOWNLOAD_RUN_OPTIONS - {"fetch.per_host_concurrency"}
_SAMPLE_BYTES = 1 << 20


class OutputMismatch(ValueError):
    """An output made from other inputs or options: one line saying what differs and how to go on."""


def option_values(options, exclude: frozenset = frozenset(), prefix: str = "") -> dict:
    """Every field of an options dataclass, nested dataclasses flattened to dotted names, except `exclude`."""
    values = {}
    for f in dataclasses.fields(options):
        name, value = prefix + f.name, getattr(options, f.name)
        if name in exclude:
            continue
        if dataclasses.is_dataclass(value):
            values.update(option_values(value, exclude, name + "."))
        else:
            values[name] = json.loads(json.dumps(value, default=str))  # as the file holds it: tuples as lists
    return values


def fingerprint(path: str, content: bool = True) -> dict:
    """An input file's entry: its path and, with `content`, its size and a hash of its two ends."""
    if not content:
        return {"path": path}
    fs, fs_path = fsspec.core.url_to_fs(path)
    size = fs.size(fs_path)
    with fs.open(fs_path, "rb") as f:
        sample = hashlib.blake2b(f.read(_SAMPLE_BYTES), digest_size=16)
        if size is not None and size > _SAMPLE_BYTES:
            f.seek(max(_SAMPLE_BYTES, size - _SAMPLE_BYTES))
            sample.update(f.read())
    return {"path": path, "bytes": size, "sample": sample.hexdigest()}


def record(command: str, inputs: list[dict], options: dict) -> dict:
    return {"wit_provenance": VERSION, "command": command, "inputs": inputs, "options": options}


def differences(old: dict, new: dict) -> list[str]:
    """What differs between two records, one short phrase each; empty when the output can be resumed."""
    diffs = []
    if old.get("command") != new["command"]:
        diffs.append(f"made by wit {old.get('command')}, not wit {new['command']}")
    old_inputs = old.get("inputs") or []
    if [_identity(i) for i in old_inputs] != [_identity(i) for i in new["inputs"]]:
        diffs.append(_inputs_change(old_inputs, new["inputs"]))
    old_options, new_options = old.get("options") or {}, new["options"]
    # An option added or removed since the output was made cannot be compared: it had no other value then.
    for name in sorted(old_options.keys() & new_options.keys()):
        if old_options[name] != new_options[name]:
            diffs.append(f"{name} {json.dumps(old_options[name])} -> {json.dumps(new_options[name])}")
    return diffs


def _identity(entry: dict):
    return (entry.get("bytes"), entry["sample"]) if "sample" in entry else entry.get("path")


def _inputs_change(old: list[dict], new: list[dict]) -> str:
    if len(old) != len(new):
        return f"inputs {_names([i.get('path') for i in old])} -> {_names([i['path'] for i in new])}"
    changed = [(o.get("path"), n["path"]) for o, n in zip(old, new) if _identity(o) != _identity(n)]
    return _names([f"{b} has changed" if a == b else f"input {a} -> {b}" for a, b in changed])


def _names(items: list, shown: int = 3) -> str:
    more = f" and {len(items) - shown} more" if len(items) > shown else ""
    return ", ".join(map(str, items[:shown])) + more or "(none)"


def prepare_output(out: Output, new: dict, made: Callable[[Output], list[str]], overwrite: bool) -> None:
    """Ready `out` for the run `new` describes. `made(out)` lists what earlier runs wrote there: kept and
    resumed when the recorded provenance matches, removed with `overwrite`, else the run is refused."""
    old_files = made(out)
    if old_files and overwrite:
        out.fs.rm(old_files)
    elif old_files:
        problem = _mismatch(out.read_json(PROVENANCE), new)
        if problem:
            raise OutputMismatch(f"{out.url} {problem}; use --overwrite to replace it, or choose another output")
    out.write_small(PROVENANCE, json.dumps(new, indent=1, sort_keys=True).encode())


def _mismatch(old: dict | None, new: dict) -> str | None:
    if not isinstance(old, dict):
        return f"already holds outputs but no readable {PROVENANCE} saying what made them"
    diffs = differences(old, new)
    return f"was made from other inputs or options ({'; '.join(diffs)})" if diffs else None
