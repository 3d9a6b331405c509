"""Shard output in img2dataset's layout, written so that a reader never sees a partial file.

Per shard: `{shard:05d}.tar` (members sorted by key, fixed metadata: the same inputs give the same bytes),
`{shard:05d}.parquet` (one row per input row), and `{shard:05d}_stats.json`, written last: its presence,
with the sizes it records matching the files, is what marks a shard complete. Each file is written under a
temporary name and renamed. `sizes.json` for the dataset is rebuilt from the stats files.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
import uuid
from collections import Counter
from dataclasses import dataclass, field

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import SUCCESS

OUTPUT_COLUMNS = ("key", "url", "caption", "status", "error_message", "width", "height",
                  "original_width", "original_height", "sha256")
_INT_COLUMNS = ("width", "height", "original_width", "original_height")
STATS_SUFFIX = "_stats.json"
# Every file a download writes into its output, by name: what a re-run may keep and --overwrite removes.
_WRITTEN = re.compile(r"\d+(\.tar|\.parquet|_stats\.json)|sizes\.json")
# Read once at import, while the process is single-threaded: os.umask can only be read by setting it.
_UMASK = os.umask(0)
os.umask(_UMASK)


def shard_name(shard_id: int) -> str:
    return f"{shard_id:05d}"


def key_width(shard_size: int) -> int:
    """Digits of the in-shard index in a key (img2dataset: enough for shard_size - 1)."""
    return len(str(max(shard_size - 1, 1)))


@dataclass
class RowResult:
    """What happened to one input row; `image` holds (offset, length) into the shard's spool file."""

    status: str
    error_message: str | None = None
    width: int | None = None
    height: int | None = None
    original_width: int | None = None
    original_height: int | None = None
    sha256: str | None = None
    image: tuple | None = None


@dataclass
class Output:
    """A local path or fsspec URL (gs://, s3://, memory://) to write shards into."""

    url: str
    fs: fsspec.AbstractFileSystem = field(init=False)
    root: str = field(init=False)

    def __post_init__(self):
        self.fs, self.root = fsspec.core.url_to_fs(self.url)
        self.root = self.root.rstrip("/")

    @property
    def is_local(self) -> bool:
        return "file" in self.fs.protocol or "local" in self.fs.protocol

    def path(self, name: str) -> str:
        return f"{self.root}/{name}"

    def makedirs(self) -> None:
        self.fs.makedirs(self.root, exist_ok=True)

    def read_json(self, name: str):
        try:
            with self.fs.open(self.path(name), "rb") as f:
                return json.loads(f.read())
        except (FileNotFoundError, ValueError, OSError):
            return None

    def publish(self, local_file: str, name: str) -> None:
        """Move a finished local file to `name` atomically: temporary name first, then a rename."""
        final = self.path(name)
        if self.is_local:  # staged inside the output folder: one rename, atomic on POSIX
            os.replace(local_file, final)
        else:
            tmp = f"{final}.tmp-{uuid.uuid4().hex[:12]}"
            self.fs.put_file(local_file, tmp)
            self.fs.mv(tmp, final)
            os.remove(local_file)

    def write_bytes(self, name: str, data: bytes, staging: str) -> None:
        fd, local = tempfile.mkstemp(dir=staging)
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; published files get the usual mode, like the tars
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        self.publish(local, name)

    def write_small(self, name: str, data: bytes) -> None:
        """Write a small file atomically, staged on its own."""
        staging = self.staging_dir()
        try:
            self.write_bytes(name, data, staging)
        finally:
            _remove_tree(staging)
        if self.is_local:  # the staging parent, unless shards are being staged there too
            with contextlib.suppress(OSError):
                os.rmdir(self.path("_tmp"))

    def staging_dir(self) -> str:
        """A local folder for files being built; inside the output when local, so the rename is atomic."""
        if self.is_local:
            path = self.path("_tmp")
            os.makedirs(path, exist_ok=True)
            return tempfile.mkdtemp(dir=path)
        return tempfile.mkdtemp(prefix="wit-shard-")

    def size(self, name: str) -> int | None:
        try:
            return self.fs.size(self.path(name))
        except (FileNotFoundError, OSError):
            return None


def is_complete(out: Output, shard_id: int) -> bool:
    """A shard is complete when its stats file exists and the tar and Parquet it records have those sizes."""
    stats = out.read_json(shard_name(shard_id) + STATS_SUFFIX)
    if not isinstance(stats, dict) or not isinstance(stats.get("files"), dict):
        return False
    return all(out.size(name) == meta.get("bytes") for name, meta in stats["files"].items())


def completed_stats(out: Output, shard_id: int) -> dict | None:
    """The stats of a complete shard, marked skipped (a re-run does not redo it), else None."""
    if not is_complete(out, shard_id):
        return None
    return {**out.read_json(shard_name(shard_id) + STATS_SUFFIX), "skipped": True}


def tar_info(name: str, size: int) -> tarfile.TarInfo:
    """A member's header with fixed metadata (time, owner, mode): the same members give the same tar bytes."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, 0, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _json_default(value):
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def write_shard(out: Output, shard_id: int, table: pa.Table, results: list[RowResult], spool, *,
                url_col: str, caption_col: str | None, carry: list[str], shard_size: int,
                image_ext: str) -> dict:
    """Write the tar, the Parquet and (last) the stats of one shard; returns the stats."""
    name = shard_name(shard_id)
    width = key_width(shard_size)
    keys = [f"{name}{i:0{width}d}" for i in range(len(results))]
    urls = table.column(url_col).to_pylist()
    captions = table.column(caption_col).to_pylist() if caption_col else [None] * len(results)
    carried = {c: table.column(c).to_pylist() for c in carry}
    staging = out.staging_dir()
    try:
        tar_local = os.path.join(staging, name + ".tar")
        with open(tar_local, "wb") as raw, tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            for i, result in enumerate(results):  # keys ascend with i, so members come sorted by key
                if result.status != SUCCESS:
                    continue
                spool.seek(result.image[0])
                image = spool.read(result.image[1])
                meta = {"key": keys[i], "url": urls[i], "caption": captions[i], "status": SUCCESS,
                        "width": result.width, "height": result.height,
                        "original_width": result.original_width, "original_height": result.original_height,
                        "sha256": result.sha256, **{c: carried[c][i] for c in carry}}
                members = {
                    f"{keys[i]}.{image_ext}": image,
                    f"{keys[i]}.json": json.dumps(meta, ensure_ascii=False, default=_json_default).encode(),
                    f"{keys[i]}.txt": (captions[i] or "").encode("utf-8"),
                }
                for member in sorted(members):
                    data = members[member]
                    tar.addfile(tar_info(member, len(data)), io.BytesIO(data))
        columns = {
            "key": pa.array(keys, pa.string()),
            "url": pa.array([u if isinstance(u, str) else None for u in urls], pa.string()),
            "caption": pa.array(captions, pa.string()) if caption_col else pa.nulls(len(keys), pa.string()),
            "status": pa.array([r.status for r in results], pa.string()),
            "error_message": pa.array([r.error_message for r in results], pa.string()),
            **{c: pa.array([getattr(r, c) for r in results], pa.int32()) for c in _INT_COLUMNS},
            "sha256": pa.array([r.sha256 for r in results], pa.string()),
        }
        for c in carry:
            columns[c] = table.column(c).combine_chunks()
        parquet_local = os.path.join(staging, name + ".parquet")
        pq.write_table(pa.table(columns), parquet_local, compression="zstd")
        files = {f"{name}.tar": {"bytes": os.path.getsize(tar_local)},
                 f"{name}.parquet": {"bytes": os.path.getsize(parquet_local)}}
        out.publish(tar_local, f"{name}.tar")
        out.publish(parquet_local, f"{name}.parquet")
        stats = shard_stats(shard_id, results, files)
        out.write_bytes(name + STATS_SUFFIX, json.dumps(stats, indent=1, sort_keys=True).encode(), staging)
        return stats
    finally:
        _remove_tree(staging)


def shard_stats(shard_id: int, results: list[RowResult], files: dict) -> dict:
    statuses = Counter(r.status for r in results)
    errors = Counter(r.error_message for r in results if r.status != SUCCESS)
    return {
        "shard": shard_id,
        "count": len(results),
        "successes": statuses.get(SUCCESS, 0),
        "failed": len(results) - statuses.get(SUCCESS, 0),
        "status_counts": dict(sorted(statuses.items())),
        "error_counts": dict(sorted(errors.items(), key=lambda kv: (-kv[1], kv[0]))),
        "files": files,
    }


def written_files(out: Output, names: re.Pattern = _WRITTEN) -> list[str]:
    """The files in `out` whose names match `names`; by default those a download writes (shard tars,
    Parquets and stats, sizes.json)."""
    try:
        paths = out.fs.ls(out.root, detail=False)
    except FileNotFoundError:
        return []
    return sorted(p for p in paths if names.fullmatch(p.rstrip("/").rsplit("/", 1)[-1]))


def _remove_tree(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


def write_sizes(out: Output) -> dict:
    """`sizes.json` ({"00000.tar": successes, ...}) from every complete shard's stats file."""
    sizes = {}
    for path in sorted(out.fs.glob(out.path("*" + STATS_SUFFIX))):
        name = path.rsplit("/", 1)[-1][: -len(STATS_SUFFIX)]
        stats = out.read_json(name + STATS_SUFFIX)
        if name.isdigit() and isinstance(stats, dict) and is_complete(out, int(name)):
            sizes[f"{name}.tar"] = int(stats["successes"])
    out.write_small("sizes.json", json.dumps(sizes, indent=1).encode())
    if out.is_local:  # staging left behind by a killed run; every shard of this run is written by now
        _remove_tree(out.path("_tmp"))
    return sizes
