"""One per-host budget for the whole job: how a downloader knows its share of each host.

The budget (FetchOptions.per_host_concurrency requests in flight, per_host_rate requests per second) is for
the job, not for each downloader: a hundred workers must not bring a hundred budgets to one host. Nothing is
shared at run time. Instead each host's rows are split into `of` lanes before the download (the Beam job
plans them: transforms/download/plan.py; `wit download` gives process p of P lane p of P for every host),
every lane belongs to exactly one downloader, and a downloader holding some of a host's lanes takes that
share of its budget:

- in flight: budget x lanes / of (at least 1; lanes are never more than the budget, so the shares add up
  to the budget at most);
- rate: request starts on a grid of wall-clock slots 1/rate seconds apart, slot m belonging to lane
  m mod of. A downloader starts a request to the host only in its own lanes' slots, so all downloaders
  together start at most one request per 1/rate seconds, through nothing but the clock (NTP keeps cloud
  workers within milliseconds). robots.txt fetches count too.
"""
from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class HostShare:
    """`lanes` of a host's `of` lanes."""

    lanes: tuple[int, ...] = (0,)
    of: int = 1

    def __post_init__(self):
        if self.of < 1 or not self.lanes or any(not 0 <= lane < self.of for lane in self.lanes):
            raise ValueError(f"lanes {self.lanes} are not lanes of {self.of}")
        object.__setattr__(self, "lanes", tuple(sorted(set(self.lanes))))

    def concurrency(self, budget: int) -> int:
        return max(1, budget * len(self.lanes) // self.of)


WHOLE = HostShare()


class Pacer:
    """A host's request starts on the job's grid of slots, in this downloader's lanes only."""

    def __init__(self, rate: float, share: HostShare, clock=time.time):
        self.interval, self.share, self.clock = 1.0 / rate, share, clock
        self.last = -1  # the last slot taken: each slot starts one request

    def next_slot(self, now: float) -> int:
        m = max(self.last + 1, math.ceil(now / self.interval))
        base, of = m - m % self.share.of, self.share.of
        return min(base + lane + (of if base + lane < m else 0) for lane in self.share.lanes)

    async def wait(self) -> None:
        slot = self.last = self.next_slot(self.clock())
        delay = slot * self.interval - self.clock()
        if delay > 0:
            await asyncio.sleep(delay)
