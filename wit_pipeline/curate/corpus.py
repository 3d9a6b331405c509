"""A corpus's shards and their samples, without torch or webdataset (cheap to import).

A corpus is a `wit build` output (its shards/ folder), a shards folder, a single .tar, or brace patterns of
.tar files (`dir/{00000..00099}.tar`, several joined with `::`), local paths or fsspec URLs: what `wit train
--data` accepts. Files beside a shard share its stem: `00000.tar`, `00000.parquet`, `00000_stats.json`,
`00000_scores.parquet`. Samples follow WebDataset's rule: a member's key is its path up to the first dot of
its file name, and a sample is the run of consecutive members sharing a key.
"""
from __future__ import annotations

import posixpath
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass

import fsspec

IMAGE_EXTS = ("jpg", "jpeg", "png", "webp")
CAPTION_EXT = "txt"


@dataclass(frozen=True)
class Shard:
    url: str  # the .tar, as a path or fsspec URL

    @property
    def name(self) -> str:
        """The file name without .tar: `00000`."""
        return posixpath.basename(self.url)[:-len(".tar")]

    def beside(self, suffix: str) -> str:
        """The file next to the tar with this suffix in place of `.tar` (`.parquet`, `_scores.parquet`)."""
        return self.url[:-len(".tar")] + suffix


def find_shards(corpus: str) -> list[Shard]:
    """Every .tar shard of CORPUS, in name order (patterns: in the order they expand to). Raises ValueError
    (one line naming CORPUS) when there is none."""
    import braceexpand

    if "{" in corpus or "::" in corpus or corpus.endswith(".tar"):
        urls = [u for part in corpus.split("::") for u in braceexpand.braceexpand(part)]
        bad = [u for u in urls if not u.endswith(".tar")]
        if bad:
            raise ValueError(f"{corpus}: {bad[0]} is not a .tar shard")
        return [Shard(u) for u in urls]
    fs, root = fsspec.core.url_to_fs(corpus)
    if not fs.isdir(root):
        raise ValueError(f"{corpus}: no such folder (give a wit build output, a shards folder or a pattern like "
                         "dir/{00000..00009}.tar)")
    base = corpus.rstrip("/")
    if fs.isdir(root.rstrip("/") + "/shards"):
        base, root = base + "/shards", root.rstrip("/") + "/shards"
    names = sorted(posixpath.basename(p.rstrip("/")) for p in fs.ls(root, detail=False))
    shards = [Shard(f"{base}/{n}") for n in names if n.endswith(".tar")]
    if not shards:
        raise ValueError(f"{corpus}: no .tar shards in it or in its shards/ folder")
    return shards


def file_size(url: str) -> int | None:
    """The size of a file in bytes, None when there is none."""
    fs, path = fsspec.core.url_to_fs(url)
    try:
        return fs.size(path)
    except (FileNotFoundError, OSError):
        return None


def split_name(member: str) -> tuple[str, str] | None:
    """(key, extension) of a tar member name by WebDataset's rule, or None for a name without an extension."""
    folder, _, base = member.rpartition("/")
    stem, dot, ext = base.partition(".")
    if not dot or not stem:
        return None
    return (f"{folder}/{stem}" if folder else stem), ext


def iter_samples(url: str) -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    """(key, [(member name, bytes), ...]) of each sample of a tar, in tar order, read as a stream. A damaged or
    missing tar raises ValueError naming it."""
    try:
        with fsspec.open(url, "rb") as raw, tarfile.open(fileobj=raw, mode="r|") as tar:
            key, members = None, []
            for member in tar:
                split = split_name(member.name) if member.isfile() else None
                if split is None:
                    continue
                if split[0] != key:
                    if members:
                        yield key, members
                    key, members = split[0], []
                members.append((member.name, tar.extractfile(member).read()))
            if members:
                yield key, members
    except FileNotFoundError:
        raise ValueError(f"{url}: no such shard") from None
    except (tarfile.TarError, EOFError, OSError) as e:
        raise ValueError(f"{url}: cannot read the tar: {e}") from None


def members_by_ext(members: list[tuple[str, bytes]]) -> dict[str, bytes]:
    """{extension (lower-cased): bytes} of one sample's members."""
    return {split_name(name)[1].lower(): data for name, data in members}


def image_of(sample: dict[str, bytes]) -> bytes | None:
    return next((sample[e] for e in IMAGE_EXTS if e in sample), None)
