"""Balancing (CLIP section 2.2, MetaCLIP's algorithm): cap head queries near t, keep the tail whole.

With count_e = how many candidates match query e, a candidate keeps one independent draw per matched query,
with probability p_e = min(1, t / count_e), and is kept when any draw succeeds: P = 1 - prod(1 - p_e).
The draws come from a hash of (seed, uid, query id), so the kept set is the same on every run and runner,
whatever the order or the bundling of the elements.

Link rot: balancing happens before the download, and a share of a crawl's URLs no longer serve an image (a
third, in MetaCLIP's experience). With `link_survival` s, heads are capped at t / s instead of t, so that
about t of them are left in the shards. s is given by the user, or measured by a pilot download of
`pilot_sample` URLs drawn from the pool being balanced (wit build; transforms/download/pilot.py).
"""
from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..flag import opt

_SCALE = float(1 << 64)
# Below this the pool is mostly dead links; raising t by more than 20x would keep whole heads, not balance them.
MIN_SURVIVAL = 0.05
# A pilot of 100,000 URLs measures survival to +-0.0015; a larger one only costs one worker time and memory.
MAX_PILOT = 100_000


@dataclass(frozen=True)
class BalanceOptions:
    t: int = opt(20_000, "MetaCLIP's cap per query: a query matched more often keeps each pair with "
                 "probability t / count", flag="balance-t")
    seed: int = opt(0, "seed of the balancing draws")
    link_survival: float = opt(1.0, "the share of balanced URLs expected to download: heads are capped at "
                               "t / this, so that about t reach the shards (1: none lost)")
    pilot_sample: int = opt(0, "wit build: first download this many URLs drawn from the pool being balanced "
                            "and use their success rate as --link-survival (0: off)")

    def __post_init__(self):
        if self.t < 1:
            raise ValueError(f"t must be a positive count, not {self.t}")
        if not MIN_SURVIVAL <= self.link_survival <= 1.0:
            raise ValueError(f"link_survival must be in [{MIN_SURVIVAL}, 1], not {self.link_survival}")
        if not 0 <= self.pilot_sample <= MAX_PILOT:  # the sample is held and downloaded by one worker
            raise ValueError(f"pilot_sample must be 0 (off) or a count of URLs up to {MAX_PILOT}, not "
                             f"{self.pilot_sample}")

    def target(self, survival: float | None = None) -> float:
        """The cap a head query is balanced to: t, raised by the expected link survival."""
        return self.t / max(MIN_SURVIVAL, self.link_survival if survival is None else survival)


def keep_probability(count: int, t: float) -> float:
    return 1.0 if count <= t else t / count


def draw(seed: int, uid: str, query_id: int) -> float:
    """A uniform number in [0, 1) that depends only on (seed, uid, query id)."""
    digest = hashlib.blake2b(f"{seed}:{uid}:{query_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def decide(uid: str, query_ids: Sequence[int], counts: Mapping[int, int], options: BalanceOptions,
           survival: float | None = None) -> bool:
    """Whether the candidate survives balancing (`survival`: a measured link survival, else the option's)."""
    t = options.target(survival)
    for query_id in query_ids:
        p = keep_probability(counts[query_id], t)
        if p >= 1.0 or draw(options.seed, uid, query_id) < p:
            return True  # any successful draw keeps it; the rest need not be drawn
    return False


def expected_keep_rate(query_ids: Sequence[int], counts: Mapping[int, int], t: float) -> float:
    return 1.0 - math.prod(1.0 - keep_probability(counts[q], t) for q in query_ids)
