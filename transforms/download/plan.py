"""Host-aware shards: the plan that lets every downloader of a job hold a share of each host's budget.

Each host's rows are split into lanes: one lane for a host with at most LANE_SHARDS shards' worth of rows,
else ceil(rows / (LANE_SHARDS x shard_size)) lanes, never more than the per-host budget (so that every lane can
hold at least one request in flight). A lane is the unit a worker fetches a host with, at its share of the
host's budget: more lanes spread a large host's decoding over more workers, fewer keep each lane's share
large when there are fewer workers than lanes (on one machine, a host's lanes are fetched one after another). A row's lane is a hash of its uid. A lane is a unit of download: all of its rows go to one
*group*, a hash of (host, lane) over ceil(rows / shard_size) groups, and a group is downloaded by one worker,
its shards one after another. So no two workers ever hold the same lane, and the shares they take
(budget.py) add up to at most the host's budget, whatever the number of workers, processes and threads.

A group usually holds one shard's worth of rows from many hosts; a group with a large host's lane holds
more, split into several shards of about shard_size: a host with half of the rows makes up to `budget` long
groups (stragglers: the download stage's group counters show them) while the others finish. That is the
budget at work: such a host cannot be fetched faster than its budget allows.
"""
from __future__ import annotations

import math
from collections.abc import Iterable

from transforms.files import bucket_of

from .budget import HostShare
from .errors import DownloadFailure
from .fetch import check_url

LANE, LANES = "host_lane", "host_lanes"  # the row fields the plan adds (written to the manifest)
LANE_SHARDS = 4  # a lane holds up to this many shards' worth of a host's rows


def host_of(url: str | None) -> str:
    """The host the fetcher will see (normalised as aiohttp sends it); "" when the URL is unusable."""
    try:
        return check_url(url or "").host or ""
    except DownloadFailure:
        return ""


def lane_rows(shard_size: int) -> int:
    """Rows of one host above which it gets a second lane."""
    return LANE_SHARDS * shard_size


def lanes_for(rows_of_host: int, shard_size: int, budget: int) -> int:
    return max(1, min(budget, math.ceil(rows_of_host / lane_rows(shard_size))))


def n_groups(rows: int, shard_size: int) -> int:
    return max(1, math.ceil(rows / shard_size))


def plan_row(host: str, row: dict, big_hosts: dict[str, int], groups: int, shard_size: int,
             budget: int) -> tuple[int, dict]:
    """(the row's group, the row with its lane), for a row of `host`: `big_hosts` holds the row counts of the
    hosts with more than lane_rows(shard_size) rows; every other host has one lane."""
    lanes = lanes_for(big_hosts.get(host, 0), shard_size, budget)
    lane = bucket_of(row["uid"], lanes) if lanes > 1 else 0
    return bucket_of(f"{host}#{lane}", groups), {**row, LANE: lane, LANES: lanes}


def shards_in(rows: int, shard_size: int) -> int:
    """How many shards a group of `rows` rows is cut into (about shard_size each)."""
    return max(1, round(rows / shard_size))


def shard_offsets(group_sizes: Iterable[tuple[int, int]], shard_size: int) -> dict[int, int]:
    """{group: its first shard id}: shard ids run from 0 over the groups in order."""
    offsets, next_id = {}, 0
    for group, size in sorted(group_sizes):
        offsets[group] = next_id
        next_id += shards_in(size, shard_size)
    return offsets


def split_group(group: int, rows: list[dict], first_shard: int, shard_size: int) -> list[tuple[int, list[dict]]]:
    """A group's rows, sorted by uid, cut into consecutive shards: [(shard id, rows)]."""
    rows = sorted(rows, key=lambda r: r["uid"])
    n = shards_in(len(rows), shard_size)
    return [(first_shard + i, rows[i * len(rows) // n:(i + 1) * len(rows) // n]) for i in range(n)]


def shares_of(rows: Iterable[dict]) -> dict[str, HostShare]:
    """The shares of the hosts a group's rows name: the lanes of each that the group holds."""
    lanes: dict[str, tuple[set, int]] = {}
    for row in rows:
        # A manifest edited by hand may hold any numbers: a lane outside its host's lanes is folded into them.
        held, of = lanes.setdefault(host_of(row.get("url")), (set(), max(1, int(row.get(LANES) or 1))))
        held.add(int(row.get(LANE) or 0) % of)
    return {host: HostShare(tuple(held), of) for host, (held, of) in lanes.items() if host}
