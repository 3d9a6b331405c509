import random

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from transforms.candidate import candidate
from transforms.dedup.beam import Dedup
from transforms.dedup.core import DedupOptions, dedup_url_group, pair_key, pick, text_key
from transforms.beam_util import Batch, Unbatch


def c(url, text, source):
    return candidate(url, text, source=source)


def test_rules():
    a, b = c("http://x/1.jpg", "dog", "f#2"), c("http://x/1.jpg", "dog", "f#1")
    assert pick([a, b], pair_key)[0] is b
    short, long_, other = c("u", "a dog", "s"), c("u", "a big dog", "s"), c("u", "a big cat", "s")
    assert pick([short, long_, other], text_key)[0] is other  # longest, then alphabetical
    assert pick([short, long_], text_key)[0] is long_


def test_captions_per_url_must_not_be_negative():
    with pytest.raises(ValueError, match="captions_per_url"):
        DedupOptions(captions_per_url=-1)


ROWS = [c("http://x/1.jpg", "a dog", "f#1"), c("http://x/1.jpg", "a dog", "f#9"),  # the same pair twice
        c("http://x/1.jpg", "a dog on grass", "f#2"), c("http://x/1.jpg", "dog", "f#3"),
        c("http://x/2.jpg", "a cat", "f#4")]


@pytest.mark.parametrize("cap, kept, rejected", [
    (0, [("http://x/1.jpg", "a dog", "f#1"), ("http://x/1.jpg", "a dog on grass", "f#2"),
         ("http://x/1.jpg", "dog", "f#3"), ("http://x/2.jpg", "a cat", "f#4")],
     [("f#9", "duplicate_pair")]),
    (1, [("http://x/1.jpg", "a dog on grass", "f#2"), ("http://x/2.jpg", "a cat", "f#4")],
     [("f#9", "duplicate_pair"), ("f#1", "duplicate_image_url"), ("f#3", "duplicate_image_url")]),
    (2, [("http://x/1.jpg", "a dog on grass", "f#2"), ("http://x/1.jpg", "a dog", "f#1"),
         ("http://x/2.jpg", "a cat", "f#4")],
     [("f#9", "duplicate_pair"), ("f#3", "duplicate_image_url")]),
])
def test_dedup_transform_is_order_independent(cap, kept, rejected):
    for seed in (0, 1):
        shuffled = ROWS[:]
        random.Random(seed).shuffle(shuffled)
        with TestPipeline(argv=["--runner=FnApiRunner"]) as p:
            result = p | beam.Create(shuffled) | Batch() | Dedup(DedupOptions(captions_per_url=cap))
            assert_that(result["kept"] | Unbatch() | beam.Map(lambda e: (e["url"], e["text"], e["source"])),
                        equal_to(kept), label="kept")
            assert_that(result["rejected"] | Unbatch() | beam.Map(lambda r: (r["source"], r["reason"])),
                        equal_to(rejected), label="rejected")


@pytest.mark.parametrize("cap", [0, 1, 2, 3])
def test_one_url_group_applies_both_rules_as_two_groupings_would(cap):
    rng = random.Random(4)
    rows = [c(f"http://x/{rng.randint(0, 5)}.jpg", rng.choice(["dog", "a dog", "a big dog", "cat", "a cat"]),
              f"f#{rng.randint(0, 9)}") for _ in range(200)]
    by_url = {}
    for row in rows:
        by_url.setdefault(row["url"], []).append(row)
    for url, group in by_url.items():
        kept, dropped, pairs = dedup_url_group(group, cap)
        # the two-step definition: one per uid by pair_key, then the first `cap` per URL by text_key
        by_uid = {}
        for row in group:
            by_uid.setdefault(row["uid"], []).append(row)
        pair_winners = sorted((pick(copies, pair_key)[0] for copies in by_uid.values()), key=text_key)
        assert kept == (pair_winners[:cap] if cap else pair_winners) and pairs == len(by_uid)
        assert len(dropped) == len(group) - len(kept)
        assert sum(reason == "duplicate_pair" for _, reason, _ in dropped) == len(group) - len(by_uid)
        assert {id(r) for r, _, _ in dropped} | {id(r) for r in kept} == {id(r) for r in group}
