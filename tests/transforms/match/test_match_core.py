"""The matcher against MetaCLIP's definition: edge cases, random texts, and the real 500k list."""
import json
import os
import random

import pytest

from transforms.match.core import ENGINES, QueryMatcher, naive_match, spacing

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "shared", "data")


def test_spacing_is_metaclips():
    assert spacing("a,b.c;d:e?f!g`h\ti\nj\rk") == " a , b . c ; d : e ? f ! g ` h i j k "


@pytest.mark.parametrize("text, queries, expected", [
    ("Dog on a beach", ["dog", "Dog", "beach"], ["Dog", "beach"]),  # case-sensitive
    ("a hot dog, please", ["hot dog", "dog", "hot", "dog,"], ["hot dog", "dog", "hot"]),  # overlaps
    ("cats.dogs", ["cats", "dogs", "cats.dogs"], ["cats", "dogs"]),  # punctuation splits words
    ("St. Louis at night", ["St. Louis", "St", "Louis"], ["St", "Louis"]),  # as MetaCLIP: never matches
    ("tab\tseparated\nlines", ["tab separated", "separated lines"], ["tab separated", "separated lines"]),
    ("double  space", ["double  space", "double space", "double", ""], ["double  space", "double", ""]),
    ("catalog", ["cat", "log"], []),  # whole words only
    ("", ["a"], []),
    ("", ["a", ""], [""]),  # MetaCLIP pads an empty text to two spaces, which the empty query matches
    ("why? because!", ["why ?", "because !", "why"], ["why ?", "because !", "why"]),
])
@pytest.mark.parametrize("engine", ENGINES)
def test_edge_cases(text, queries, expected, engine):
    matcher = QueryMatcher(queries, engine=engine)
    got = matcher.match(text)
    assert got == naive_match(text, queries)
    assert [queries[i] for i in got] == expected
    assert matcher.match_many(["x", text, text]) == [naive_match(t, queries) for t in ("x", text, text)]


@pytest.mark.parametrize("engine", ENGINES)
def test_duplicate_queries_report_every_id(engine):
    queries = ["dog", "hot dog", "dog", "hot dog"]
    matcher = QueryMatcher(queries, engine=engine)
    assert matcher.match("hot dog") == naive_match("hot dog", queries) == [0, 1, 2, 3]
    assert matcher.match_many(["a dog", "no"]) == [[0, 2], []]


@pytest.mark.parametrize("engine", ENGINES)
def test_empty_list_and_empty_batch(engine):
    assert QueryMatcher([], engine=engine).match_many(["a dog", ""]) == [[], []]
    assert QueryMatcher(["None"], engine=engine).match(None) == QueryMatcher(["None"]).match_many([None])[0] == []
    assert QueryMatcher(["dog"], engine=engine).match_many([]) == []


def test_texts_with_nul_are_matched_one_by_one():
    queries = ["dog", "cat"]
    texts = ["a dog \x00 cat", "cat"]
    assert QueryMatcher(queries).match_many(texts) == [naive_match(t, queries) for t in texts] == [[0, 1], [1]]


@pytest.mark.parametrize("engine", ENGINES)
def test_lone_surrogates_and_non_ascii_match_exactly(engine):
    """A lone surrogate (possible in a Python str from JSON) is a character like any other, never an error."""
    queries = ["dog", "a", "\ud800", "x \ud800 y", "é", "東京 タワー", "Straße"]
    texts = ["a dog \ud800 x", "x \ud800 y é", "\ud800", "東京 タワー, Straße.", "dog\udfff"]
    matcher = QueryMatcher(queries, engine=engine)
    expected = [naive_match(t, queries) for t in texts]
    assert matcher.match_many(texts) == expected == [[0, 1, 2], [2, 3, 4], [2], [5, 6], []]
    assert [matcher.match(t) for t in texts] == expected


def test_unknown_engine_is_refused():
    with pytest.raises(ValueError, match="unknown matching engine"):
        QueryMatcher(["dog"], engine="regex")


@pytest.mark.parametrize("engine", ENGINES)
def test_random_texts_agree_with_the_definition(engine):
    rng = random.Random(7)
    words = ["dog", "hot", "Dog", "a", "St", "Louis", "", "cat", "é", "東京"]
    seps = [" ", "  ", ",", ". ", "\t", "!", "?", ";", ":", "`", "-"]
    queries = sorted({" ".join(rng.choice(words) for _ in range(rng.randint(1, 3))) for _ in range(60)})
    queries += [q + "." for q in queries[:5]] + ["hot dog", "dog"]
    matcher = QueryMatcher(queries, engine=engine)
    texts = ["".join(rng.choice(words) + rng.choice(seps) for _ in range(rng.randint(0, 8))) for _ in range(400)]
    assert matcher.match_many(texts) == [naive_match(t, queries) for t in texts]
    assert [matcher.match(t) for t in texts[:50]] == [naive_match(t, queries) for t in texts[:50]]


def test_bad_query_is_refused():
    with pytest.raises(ValueError, match="query 1"):
        QueryMatcher(["ok", None])


@pytest.mark.skipif(not os.path.exists(os.path.join(SHARED, "queries", "proxy_500k.json")),
                    reason="the shared 500k query list is absent")
def test_real_list_and_captions_agree_with_the_naive_loop():
    import pyarrow.parquet as pq
    queries = json.load(open(os.path.join(SHARED, "queries", "proxy_500k.json")))
    texts = [t or "" for t in pq.read_table(os.path.join(SHARED, "captions", "laion_style_10000.parquet"),
                                            columns=["TEXT"]).column("TEXT").to_pylist()]
    matched = QueryMatcher(queries).match_many(texts)
    assert matched == QueryMatcher(queries, engine="pyahocorasick").match_many(texts)
    assert 0.9 < sum(1 for m in matched if m) / len(texts) < 1.0  # the README's 96.6%
    for i in random.Random(3).sample(range(len(texts)), 25):  # the naive loop costs ~0.1 s per text
        assert matched[i] == naive_match(texts[i], queries), texts[i]
