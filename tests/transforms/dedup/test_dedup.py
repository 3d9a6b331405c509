import random

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from transforms.candidate import candidate
from transforms.dedup.beam import Dedup
from transforms.dedup.core import dedup_url_group, pair_key, pick, text_key


def c(url, text, source, queries=()):
    return {**candidate(url, text, source=source), "matched_queries": list(queries)}


def test_rules():
    a, b = c("http://x/1.jpg", "dog", "f#2"), c("http://x/1.jpg", "dog", "f#1")
    assert pick([a, b], pair_key)[0] is b
    short, long_, more = c("u", "a dog", "s", [1]), c("u", "a big dog", "s", [1]), c("u", "dog", "s", [1, 2])
    assert pick([short, long_, more], text_key)[0] is more
    assert pick([short, long_], text_key)[0] is long_


def test_dedup_transform_is_order_independent():
    rows = [c("http://x/1.jpg", "a dog", "f#1", [0]), c("http://x/1.jpg", "a dog", "f#9", [0]),  # same pair
            c("http://x/1.jpg", "a dog on grass", "f#2", [0]), c("http://x/1.jpg", "dog", "f#3", [0, 1]),
            c("http://x/2.jpg", "a cat", "f#4", [2])]
    for seed in (0, 1):
        shuffled = rows[:]
        random.Random(seed).shuffle(shuffled)
        with TestPipeline(argv=["--runner=FnApiRunner"]) as p:
            result = p | beam.Create(shuffled) | Dedup()
            assert_that(result["kept"] | beam.Map(lambda e: (e["url"], e["text"], e["source"])),
                        equal_to([("http://x/1.jpg", "dog", "f#3"), ("http://x/2.jpg", "a cat", "f#4")]),
                        label="kept")
            assert_that(result["rejected"] | beam.Map(lambda r: (r["source"], r["reason"])),
                        equal_to([("f#9", "duplicate_pair"), ("f#1", "duplicate_image_url"),
                                  ("f#2", "duplicate_image_url")]), label="rejected")


def test_one_url_group_applies_both_rules_as_two_groupings_would():
    rng = random.Random(4)
    rows = [c(f"http://x/{rng.randint(0, 5)}.jpg", rng.choice(["dog", "a dog", "a big dog", "cat"]),
              f"f#{rng.randint(0, 9)}", [0] * rng.randint(1, 3)) for _ in range(200)]
    by_url = {}
    for row in rows:
        by_url.setdefault(row["url"], []).append(row)
    for url, group in by_url.items():
        winner, dropped, pairs = dedup_url_group(group)
        # the two-step definition: one per uid by pair_key, then one per URL by text_key
        by_uid = {}
        for row in group:
            by_uid.setdefault(row["uid"], []).append(row)
        pair_winners = [pick(copies, pair_key)[0] for copies in by_uid.values()]
        assert winner is pick(pair_winners, text_key)[0] and pairs == len(by_uid)
        assert len(dropped) == len(group) - 1
        assert sum(reason == "duplicate_pair" for _, reason, _ in dropped) == len(group) - len(by_uid)
        assert {id(r) for r, _, _ in dropped} | {id(winner)} == {id(r) for r in group}
