"""Query matching with MetaCLIP's exact semantics, on an Aho-Corasick automaton.

MetaCLIP (metaclip/substr_matching.py): the text is padded `" " + text + " "`, each of `, . ; : ? ! `` ` ``
is wrapped in spaces, `\\t \\n \\r` become spaces; query `q` matches when `" " + q + " "` is a substring.
Case-sensitive; a text may match many queries (overlaps included: "hot dog" and "dog").

Engines (same answers, tested against the definition):
- `tokens` (default): the C extension `_tokenmatch`. Both `" " + q + " "` and the spaced text start and end
  with a space, so a match is a run of whole space-separated tokens; the list becomes a trie over token ids
  and a text costs one hash lookup per token, not one automaton step (a cache miss, with 500k queries) per
  byte: the fastest engine on a large list (benchmarks/match.py). Built by setup.py;
  where no C compiler was found, the default falls back to `ahocorasick_rs` with a warning.
- `ahocorasick_rs`: the Rust `aho-corasick` crate's contiguous NFA, reporting overlapping matches.
  Faster than pyahocorasick, with less memory (benchmarks/match.py).
  It runs on UTF-8 bytes encoded with "surrogatepass": a `str` haystack would refuse a lone surrogate, and
  the encoding keeps substring relations exactly (no character's bytes occur inside another's).
- `pyahocorasick`: the C library MetaCLIP itself uses.
A batch is spaced with one replace chain over all its texts joined by NUL (no query may contain one), then
split back, so the per-text Python work is one automaton call, a set of pattern indexes and a sort.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from functools import partial
from operator import itemgetter

ENGINES = ("tokens", "ahocorasick_rs", "pyahocorasick")
_SEP = "\x00"

try:
    from ._tokenmatch import TokenMatcher
    DEFAULT_ENGINE = "tokens"
except ImportError:  # built without a C compiler (setup.py marks the extension optional)
    TokenMatcher = None
    DEFAULT_ENGINE = "ahocorasick_rs"


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def spacing(text: str) -> str:
    """MetaCLIP's normalisation of a text before matching (its replace chain is also the fastest way)."""
    spaced = f" {text} "
    for punct in ",.;:?!`":
        spaced = spaced.replace(punct, f" {punct} ")
    return spaced.replace("\t", " ").replace("\n", " ").replace("\r", " ")


def naive_match(text: str, queries: Sequence[str]) -> list[int]:
    """The definition, for tests: ids of every query whose spaced form is a substring of the spaced text."""
    spaced = spacing(text)
    return [i for i, q in enumerate(queries) if f" {q} " in spaced]


class QueryMatcher:
    """Matches texts against a fixed query list; build once per worker, reuse for every text."""

    def __init__(self, queries: Sequence[str], engine: str | None = None):
        if engine is None:
            engine = DEFAULT_ENGINE
            if TokenMatcher is None:
                logging.getLogger(__name__).warning(
                    "transforms.match._tokenmatch was not built (no C compiler at install?): matching with "
                    "the slower ahocorasick_rs engine; the answers are the same")
        if engine not in ENGINES:
            raise ValueError(f"unknown matching engine {engine!r}; choose one of {', '.join(ENGINES)}")
        self.queries = list(queries)
        self.engine = engine
        for i, query in enumerate(self.queries):
            if not isinstance(query, str) or _SEP in query:
                raise ValueError(f"query {i} is not a usable string: {query!r}")
        self._tokens = None
        if engine == "tokens":  # the C matcher handles duplicates and spacing itself
            if TokenMatcher is None:
                raise ValueError("the tokens engine was not built (transforms/match/_tokenmatch.c needs a C "
                                 "compiler at install); use engine='ahocorasick_rs'")
            self._tokens = TokenMatcher(self.queries)
            return
        keys = [f" {query} " for query in self.queries]
        self._aliases: dict[int, list[int]] = {}
        self._key_ids = None  # pattern index -> query id, when they differ (a list with duplicates)
        if len(set(keys)) < len(keys):  # the same string twice: MetaCLIP's loop reports both ids
            first: dict[str, int] = {}
            for i, key in enumerate(keys):
                if key in first:
                    self._aliases.setdefault(first[key], [first[key]]).append(i)
                else:
                    first[key] = i
            self._key_ids = list(first.values())
            keys = list(first)
        # `_find(haystack)` iterates matches; `_index` takes the pattern index out of one; `_bytes`: whether
        # haystacks are UTF-8 bytes rather than str.
        self._bytes = engine == "ahocorasick_rs"
        if self._bytes:
            self._find, self._index = self._rust([_utf8(k) for k in keys]), itemgetter(0)
        else:
            self._find, self._index = self._pyaho(keys), itemgetter(1)

    @staticmethod
    def _rust(keys: list[bytes]):
        import ahocorasick_rs

        automaton = ahocorasick_rs.BytesAhoCorasick(
            keys, matchkind=ahocorasick_rs.MatchKind.Standard,
            implementation=ahocorasick_rs.Implementation.ContiguousNFA)
        return partial(automaton.find_matches_as_indexes, overlapping=True)  # (index, start, end) tuples

    @staticmethod
    def _pyaho(keys: list[str]):
        import ahocorasick

        automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
        for index, key in enumerate(keys):
            automaton.add_word(key, index)
        automaton.make_automaton()
        if not keys:  # an empty automaton cannot iterate
            return lambda spaced: ()
        return automaton.iter  # (end, index) tuples

    def __len__(self) -> int:
        return len(self.queries)

    def match(self, text: str) -> list[int]:
        """Sorted ids of the queries `text` matches (empty when none)."""
        if self._tokens is not None:
            return self._tokens.match(text or "")
        spaced = spacing(text or "")  # None as an empty text, as match_many
        return self._ids(set(map(self._index, self._find(_utf8(spaced) if self._bytes else spaced))))

    def match_many(self, texts: Iterable[str]) -> list[list[int]]:
        """`match` for each text; the spacing is done once for the whole batch."""
        texts = [t or "" for t in texts]
        if self._tokens is not None:
            return self._tokens.match_many(texts)
        if not texts:
            return []
        if any(_SEP in t for t in texts):  # a NUL inside a text would split it: match those one by one
            return [self.match(t) for t in texts]
        find, index = self._find, self._index
        spaced = spacing(f" {_SEP} ".join(texts))
        # NUL is one byte in UTF-8 and occurs in no other character's bytes, so bytes split where str would.
        spaced = _utf8(spaced).split(b"\x00") if self._bytes else spaced.split(_SEP)
        if self._key_ids is None:  # the common case, inlined: this loop is the matcher's hot path
            return [sorted(set(map(index, find(s)))) for s in spaced]
        return [self._ids(set(map(index, find(s)))) for s in spaced]

    def _ids(self, found: set) -> list[int]:
        """Sorted query ids from a set of pattern indexes (duplicate queries share one pattern)."""
        if found and self._key_ids is not None:
            key_ids, aliases = self._key_ids, self._aliases
            found = {alias for k in found for alias in aliases.get(key_ids[k], (key_ids[k],))}
        return sorted(found)
