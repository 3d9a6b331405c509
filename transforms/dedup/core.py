"""Dedup rules, deterministic whatever order the runner delivers a group in.

1. The same pair once: candidates with the same uid (same url and normalised text) keep the one with the
   smallest (source, page_url): the earliest crawl file and record when sources sort that way.
2. One text per image URL: among the pairs of one URL keep the text that matched the most queries
   (the most describable), then the longest, then the alphabetically first, then the smallest uid.
   MetaCLIP and CLIP keep every (url, text) pair; one text per image keeps a repeated image (a logo, a
   stock photo) from being drawn many times over, and an image is downloaded once.

Every copy of a pair has the pair's URL, so one grouping by URL serves both rules (`dedup_url_group`): one
shuffle instead of two.
"""
from __future__ import annotations

from collections.abc import Iterable


def pair_key(candidate: dict) -> tuple:
    return (candidate.get("source") or "", candidate.get("page_url") or "", candidate["uid"])


def text_key(candidate: dict) -> tuple:
    text = candidate.get("text") or ""
    return (-len(candidate.get("matched_queries") or ()), -len(text), text, candidate["uid"])


def pick(candidates: Iterable[dict], key) -> tuple[dict, list[dict]]:
    """(the candidate with the smallest key, the others)."""
    ordered = sorted(candidates, key=key)
    return ordered[0], ordered[1:]


def dedup_url_group(candidates: Iterable[dict]) -> tuple[dict, list[tuple[dict, str, str]], int]:
    """Both rules over the candidates of one image URL: (the one kept, [(dropped, reason, uid it lost to)],
    how many distinct pairs there were). Reasons: "duplicate_pair" (rule 1), "duplicate_image_url" (rule 2)."""
    by_uid: dict[str, list[dict]] = {}
    for c in candidates:
        by_uid.setdefault(c["uid"], []).append(c)
    dropped, pairs = [], []
    for copies in by_uid.values():
        winner, losers = pick(copies, pair_key)
        pairs.append(winner)
        dropped += [(loser, "duplicate_pair", winner["uid"]) for loser in losers]
    winner, losers = pick(pairs, text_key)
    dropped += [(loser, "duplicate_image_url", winner["uid"]) for loser in losers]
    return winner, dropped, len(pairs)
