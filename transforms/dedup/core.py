"""Dedup rules, deterministic whatever order the runner delivers a group in.

1. The same pair once: candidates with the same uid (same url and normalised text) keep the one with the
   smallest (source, page_url): the earliest crawl file and record when sources sort that way.
2. At most `captions_per_url` texts per image URL (0: no cap, every distinct pair stays, LAION's rule and
   the default): the longest texts are kept, then the alphabetically first, then the smallest uid. Dedup
   runs before query matching (language -> dedup -> match), so how many queries a text matches is not known
   here; length stands for how much a text says.

Why the default keeps every caption: on a web of real photos where each photo appears on several pages with
different human captions, one caption per URL threw away four fifths of the pairs and the tiny CLIP trained
on what was left retrieved held-out images about half as well at equal training compute
(benchmarks/dedup_policy.py; the README has the figures). A cap of 1 still suits a crawl where one image
(a logo, a stock photo) carries thousands of near-identical alt texts.

Every copy of a pair has the pair's URL, so one grouping by URL serves both rules (`dedup_url_group`): one
shuffle instead of two.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..flag import opt


@dataclass(frozen=True)
class DedupOptions:
    captions_per_url: int = opt(0, "at most this many distinct texts per image URL, the longest first (0: no "
                                "cap, every distinct (url, text) pair is kept, as LAION does; 1: one per image)")

    def __post_init__(self):
        if self.captions_per_url < 0:
            raise ValueError(f"captions_per_url must be 0 (no cap) or a positive count, not {self.captions_per_url}")


def pair_key(candidate: dict) -> tuple:
    return (candidate.get("source") or "", candidate.get("page_url") or "", candidate["uid"])


def text_key(candidate: dict) -> tuple:
    text = candidate.get("text") or ""
    return (-len(text), text, candidate["uid"])


def pick(candidates: Iterable[dict], key) -> tuple[dict, list[dict]]:
    """(the candidate with the smallest key, the others)."""
    ordered = sorted(candidates, key=key)
    return ordered[0], ordered[1:]


def dedup_url_group(candidates: Iterable[dict], captions_per_url: int = 0
                    ) -> tuple[list[dict], list[tuple[dict, str, str]], int]:
    """Both rules over the candidates of one image URL: (the ones kept, sorted by text_key; [(dropped, reason,
    uid it lost to)]; how many distinct pairs there were). Reasons: "duplicate_pair" (rule 1),
    "duplicate_image_url" (rule 2, naming the last text kept)."""
    by_uid: dict[str, list[dict]] = {}
    for c in candidates:
        by_uid.setdefault(c["uid"], []).append(c)
    dropped, pairs = [], []
    for copies in by_uid.values():
        winner, losers = pick(copies, pair_key)
        pairs.append(winner)
        dropped += [(loser, "duplicate_pair", winner["uid"]) for loser in losers]
    pairs.sort(key=text_key)
    if captions_per_url and len(pairs) > captions_per_url:
        kept, over = pairs[:captions_per_url], pairs[captions_per_url:]
        dropped += [(loser, "duplicate_image_url", kept[-1]["uid"]) for loser in over]
        pairs = kept
    return pairs, dropped, len(by_uid)


def dedup_rows(rows: Iterable[dict], captions_per_url: int = 0) -> tuple[list[dict], list[tuple[dict, str, str]], int]:
    """dedup_url_group over rows of any URLs (each URL's rows all among them): (kept, dropped, distinct pairs)."""
    by_url: dict[str, list[dict]] = {}
    for row in rows:
        by_url.setdefault(row["url"], []).append(row)
    kept, dropped, pairs = [], [], 0
    for group in by_url.values():
        group_kept, group_dropped, group_pairs = dedup_url_group(group, captions_per_url)
        kept += group_kept
        dropped += group_dropped
        pairs += group_pairs
    return kept, dropped, pairs
