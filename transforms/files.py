"""Input files, the one way every reader finds and names them: what an input names (a file, a folder, a glob,
any fsspec URL), what a file name says (its extension once a compression suffix is looked through), and the
hash that puts a key in one of n buckets (rows into shards, rejected rows into files).

Plain Python (fsspec only): the crawl, the manifest reader, the query list and the query-list builder use it.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable

import fsspec

# Compression suffixes looked through when a name tells the format (fsspec decompresses them on the fly;
# the crawl's container sniffing also reads .zstd).
COMPRESSIONS = (".gz", ".bz2", ".xz", ".zst", ".zstd", ".lz4")


def strip_compression(name: str) -> str:
    """`name` without its compression suffix (one of COMPRESSIONS, any case), if it has one."""
    lower = name.lower()
    for ext in COMPRESSIONS:
        if lower.endswith(ext):
            return name[: len(name) - len(ext)]
    return name


def is_compressed(path: str) -> bool:
    return path.lower().endswith(COMPRESSIONS)


def base_name(path: str) -> str:
    """The file's name, lower case, without folders and without a compression suffix."""
    return strip_compression(path.lower().rsplit("/", 1)[-1])


def extension(path: str) -> str:
    """The extension the name tells once a compression suffix is looked through ("" when none), lower case:
    "a/b.CSV.gz" -> "csv"."""
    name = base_name(path)
    return name.rsplit(".", 1)[-1] if "." in name else ""


def is_glob(item: str) -> bool:
    return any(c in item for c in "*?[")


def list_files(item: str, accept: Callable[[str], bool] | None = None) -> list[str]:
    """The files `item` names, sorted: a glob's matching files (folders aside), the files under a folder that
    `accept` takes (all when None), or the file itself; [] when it names none. Paths found on a remote
    filesystem keep its protocol (gs://...), so they can be opened again by name."""
    fs, _ = fsspec.core.url_to_fs(item)
    protocol = fs.protocol[0] if isinstance(fs.protocol, (tuple, list)) else fs.protocol
    local = protocol in ("file", "local")

    def named(p: str) -> str:
        return p if local or "://" in p else f"{protocol}://{p}"

    if is_glob(item):
        matches = fs.glob(item, detail=True)  # one listing call, with each entry's type
        found = [p for p, info in matches.items() if info.get("type") != "directory"]
        if found:
            return sorted(named(p) for p in found)
    if fs.isdir(item):
        return sorted(named(p) for p in fs.find(item) if accept is None or accept(p))
    return [item] if fs.exists(item) else []


def is_folder(item: str) -> bool:
    fs, path = fsspec.core.url_to_fs(item)
    return fs.isdir(path)


def bucket_of(key: str, n: int) -> int:
    """Which of `n` buckets `key` goes to: a stable hash (BLAKE2b, 64 bits), the same on every machine and run."""
    if n == 1:  # no hash needed: a whole output in one file, a host in one lane
        return 0
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big") % n
