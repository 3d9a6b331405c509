"""The matcher against MetaCLIP's definition: edge cases, random texts, and the real 500k list."""
import json
import os
import random

import pytest

from transforms.match.core import DEFAULT_ENGINE, ENGINES, QueryMatcher, naive_match, spacing

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


@pytest.mark.parametrize("engine", ENGINES)
def test_random_strings_over_a_small_alphabet_agree_with_the_definition(engine):
    """The token engine's argument (a match is a run of whole space-separated tokens) under stress: queries
    and texts drawn from spaces, punctuation, tabs, CR/LF and non-ASCII, with leading, trailing and double
    spaces, empty queries and punctuation inside queries."""
    rng = random.Random(11)
    alphabet = ["a", "b", "a", "b", " ", " ", ",", ".", "\t", "\n", "\r", "!", "é", "\ud800", "-", "`"]
    queries = sorted({"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 5))) for _ in range(300)})
    queries += ["a", "a b", "a , b", "a  b", " a", "b ", "", "a\tb", "a,b"]
    matcher = QueryMatcher(queries, engine=engine)
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24))) for _ in range(1500)]
    expected = [naive_match(t, queries) for t in texts]
    assert matcher.match_many(texts) == expected
    assert sum(1 for e in expected if e) > 1000  # the alphabet is small enough that most texts match something
    assert matcher.match("a,b") == naive_match("a,b", queries) and queries.index("a , b") in matcher.match("a,b")


def test_default_engine_is_the_c_token_matcher():
    """setup.py builds the C extension; a fallback to the slower engine on a machine with a compiler is a bug."""
    assert DEFAULT_ENGINE == "tokens"
    assert QueryMatcher(["dog"]).engine == "tokens"


def test_token_engine_counts_its_tables():
    from transforms.match._tokenmatch import TokenMatcher
    matcher = TokenMatcher(["hot dog", "dog", "hot dog", "a  b"])
    # tokens: hot, dog, a, "", b; nodes: the root, hot, hot dog, dog, a, a "", a "" b
    assert (matcher.n_queries, matcher.n_tokens, matcher.n_nodes) == (4, 5, 7)
    assert matcher.nbytes > 0
    with pytest.raises(TypeError, match="expected str"):
        matcher.match_many(["dog", b"dog"])
    with pytest.raises(TypeError, match="expected str"):
        TokenMatcher(["dog", 3])


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


def test_threads_sharing_one_token_matcher_get_their_own_answers():
    """The C matcher keeps no per-matcher scratch, so threads may share it even when a call loses the GIL
    (here a garbage-collector callback runs Python code, and threads switch every microsecond)."""
    import gc
    import sys
    import threading

    rng = random.Random(5)
    words = [f"w{i}" for i in range(300)]
    queries = words + [f"{a} {b}" for a, b in zip(words, words[1:])]
    matcher = QueryMatcher(queries, engine="tokens")
    batches = [[" ".join(rng.choice(words) for _ in range(rng.randint(1, 30))) for _ in range(200)] for _ in range(6)]
    expected = [matcher.match_many(b) for b in batches]
    got = [None] * len(batches)

    def work(i):
        for _ in range(5):
            got[i] = matcher.match_many(batches[i])
            assert got[i] == expected[i]

    def churn(phase, info):
        sum(range(50))

    interval, threshold = sys.getswitchinterval(), gc.get_threshold()
    sys.setswitchinterval(1e-6)
    gc.set_threshold(10)
    gc.callbacks.append(churn)
    try:
        threads = [threading.Thread(target=work, args=(i,)) for i in range(len(batches))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        gc.callbacks.remove(churn)
        sys.setswitchinterval(interval)
        gc.set_threshold(*threshold)
    assert got == expected
