"""The options of the query-list build (queries.build), kept free of Beam so the CLI can show them cheaply."""
from __future__ import annotations

import math
from dataclasses import dataclass

from transforms.flag import opt

from queries.pageviews import wiki_domains

SOURCES = ("unigram", "bigram", "title", "wordnet")  # also the priority when a query comes from several


@dataclass(frozen=True)
class QueryBuildOptions:
    """What `queries.build.build_queries` reads and how it selects (its docstring defines the scores)."""
    output: str = opt(help="output folder: a path or gs://, s3://, ... URL", cli=False)
    wikipedia: tuple[str, ...] = opt((), "pages-articles XML dump (.xml or .xml.bz2), plain text (one paragraph a "
                                     "line, optionally .gz) or JSONL with a 'text' field; files, globs or folders",
                                     nargs="+", metavar="PATH")
    pageviews: tuple[str, ...] = opt((), "Wikimedia page-view dump files (`domain title views bytes` lines, "
                                     "optionally .gz/.bz2); files, globs or folders", nargs="+", metavar="PATH")
    wordnet: str | None = opt(None, "WordNet database folder with data.noun, data.verb, ... (e.g. "
                              "/usr/share/wordnet)", metavar="DIR")
    min_count: int = opt(100, "occurrences a Wikipedia word needs")
    bigram_min_count: int = opt(100, "occurrences a Wikipedia word pair needs")
    # 5 bits: a pair seen 32 times as often as chance would have it.
    pmi_threshold: float = opt(5.0, "pointwise mutual information (bits) a word pair needs")
    pageview_threshold: int = opt(1000, "page views (summed over the files) an article title needs")
    wiki: str = opt("en", "which Wikipedia's page views: a language code (en, de, ...)")
    max_size: int | None = opt(None, "keep at most this many queries, the highest-scoring share of each source "
                               "(default: no cap)")

    def __post_init__(self):
        for name in ("wikipedia", "pageviews"):
            value = getattr(self, name)
            object.__setattr__(self, name, (value,) if isinstance(value, str) else tuple(value))
        if not (self.wikipedia or self.pageviews or self.wordnet):
            raise ValueError("nothing to build from: give Wikipedia text, page-view files or a WordNet directory")
        if not self.output:
            raise ValueError("output must name a folder")
        for name in ("min_count", "bigram_min_count"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.pageview_threshold < 0:
            raise ValueError(f"pageview_threshold must not be negative, not {self.pageview_threshold}")
        if not math.isfinite(self.pmi_threshold):
            raise ValueError(f"pmi_threshold must be a finite number, not {self.pmi_threshold}")
        if self.max_size is not None and self.max_size < 1:
            raise ValueError(f"max_size must be positive (or None for no cap), not {self.max_size}")
        wiki_domains(self.wiki)  # validates the code

    @property
    def sources(self) -> tuple[str, ...]:
        """The sources these inputs give, in SOURCES order."""
        return (("unigram", "bigram") if self.wikipedia else ()) + (("title",) if self.pageviews else ()) \
            + (("wordnet",) if self.wordnet else ())
