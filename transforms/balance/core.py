"""Balancing (CLIP section 2.2, MetaCLIP's algorithm): cap head queries near t, keep the tail whole.

With count_e = how many candidates match query e, a candidate keeps one independent draw per matched query,
with probability p_e = min(1, t / count_e), and is kept when any draw succeeds: P = 1 - prod(1 - p_e).
The draws come from a hash of (seed, uid, query id), so the kept set is the same on every run and runner,
whatever the order or the bundling of the elements.
"""
from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..flag import opt

_SCALE = float(1 << 64)


@dataclass(frozen=True)
class BalanceOptions:
    t: int = opt(20_000, "MetaCLIP's cap per query: a query matched more often keeps each pair with "
                 "probability t / count", flag="balance-t")
    seed: int = opt(0, "seed of the balancing draws")

    def __post_init__(self):
        if self.t < 1:
            raise ValueError(f"t must be a positive count, not {self.t}")


def keep_probability(count: int, t: int) -> float:
    return 1.0 if count <= t else t / count


def draw(seed: int, uid: str, query_id: int) -> float:
    """A uniform number in [0, 1) that depends only on (seed, uid, query id)."""
    digest = hashlib.blake2b(f"{seed}:{uid}:{query_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def decide(uid: str, query_ids: Sequence[int], counts: Mapping[int, int], options: BalanceOptions) -> bool:
    """Whether the candidate survives balancing."""
    for query_id in query_ids:
        p = keep_probability(counts[query_id], options.t)
        if p >= 1.0 or draw(options.seed, uid, query_id) < p:
            return True  # any successful draw keeps it; the rest need not be drawn
    return False


def expected_keep_rate(query_ids: Sequence[int], counts: Mapping[int, int], t: int) -> float:
    return 1.0 - math.prod(1.0 - keep_probability(counts[q], t) for q in query_ids)
