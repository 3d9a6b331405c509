"""The Beam pipeline that builds a query list the way CLIP did (the CLIP paper, section 2.2: common Wikipedia
words, high-PMI bigrams, titles of much-viewed Wikipedia articles, WordNet synsets):

1. `unigram`: every word of the Wikipedia text seen at least `min_count` times (default 100).
   score = its number of occurrences.
2. `bigram`: every pair of adjacent words (see queries.tokenize) seen at least `bigram_min_count` times whose
   pointwise mutual information reaches `pmi_threshold`. score = PMI in bits:
       pmi(a b) = log2( count(a b) * N / (count(a) * count(b)) ),  N = number of words in the text,
   that is log2 P(a b) / (P(a) P(b)) with every probability estimated over the N word positions.
3. `title`: titles of the chosen wiki's articles (see queries.pageviews.normalize_title) whose page views,
   summed over all page-view files given, reach `pageview_threshold`. score = the summed views.
4. `wordnet`: the head word of every WordNet synset. score = the number of synsets it heads.

A query found by several sources is kept once, from the first source in that order (so WordNet heads are
added only when not already present). With `max_size`, the cap keeps the same share of every source: each
source's entries are ranked by score (highest first, ties by query), and entries are taken by rank / source
size, so a source is trimmed in proportion to its size and always loses its lowest-scoring entries first.

Outputs in `output/` (written by one step, to a temporary name then renamed; byte-identical on re-runs):
`queries.parquet` (query, source, score) and `queries.json` (a JSON list of the queries: MetaCLIP's
metadata format), both sorted by query (code-point order).
"""
from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, replace

import apache_beam as beam
import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import PipelineOptions

from queries import pageviews, wikipedia, wordnet
from queries.options import SOURCES, QueryBuildOptions
from queries.tokenize import unigrams_and_bigrams
from transforms.files import list_files

PARQUET_NAME = "queries.parquet"
JSON_NAME = "queries.json"
QUERY_SCHEMA = pa.schema([("query", pa.string()), ("source", pa.string()), ("score", pa.float64())])
DEFAULT_BEAM_ARGS = ("--runner=FnApiRunner",)  # Beam's own default would first download Prism


def pmi(count_ab: int, count_a: int, count_b: int, n: int) -> float:
    """Pointwise mutual information of a bigram, in bits (module docstring)."""
    return math.log2(count_ab * n / (count_a * count_b))


# --- Wikipedia ---------------------------------------------------------------------------------------------

class ReadWikipedia(beam.PTransform):
    """File paths -> texts (cleaned articles, JSONL texts, or chunks of lines), spread over workers."""

    def expand(self, paths):
        return (paths
                | "Read" >> beam.FlatMap(wikipedia.read_documents)
                # One dump file is read by one worker; the counting after it runs everywhere.
                | "Spread" >> beam.Reshuffle())


class _CountWords(beam.DoFn):
    BIGRAMS = "bigrams"

    def setup(self):
        self.documents = Metrics.counter("wit.queries", "wikipedia_documents")

    def process(self, text):
        self.documents.inc()
        unigrams, bigrams = unigrams_and_bigrams(text)
        # Counted per document first: far fewer elements to shuffle than one per word.
        yield from Counter(unigrams).items()
        for pair, count in Counter(bigrams).items():
            yield beam.pvalue.TaggedOutput(self.BIGRAMS, (pair, count))


def _with_first_count(element):
    """(a, {bigrams: [(b, c_ab)], counts: [c_a]}) -> (b, (a, c_ab, c_a)) for each bigram."""
    a, grouped = element
    counts = list(grouped["counts"])
    if not counts:  # a word below bigram_min_count: it starts no frequent pair
        return
    for b, count_ab in grouped["bigrams"]:
        yield b, (a, count_ab, counts[0])


def _scored_bigrams(element, n, threshold):
    """(b, {bigrams: [(a, c_ab, c_a)], counts: [c_b]}) -> ("a b", "bigram", pmi) for pairs at the threshold."""
    b, grouped = element
    counts = list(grouped["counts"])
    if not counts:
        return
    for a, count_ab, count_a in grouped["bigrams"]:
        score = pmi(count_ab, count_a, counts[0], n)
        if score >= threshold:
            yield f"{a} {b}", "bigram", score


class WikipediaQueries(beam.PTransform):
    """Texts -> (query, source, score) entries: frequent unigrams and high-PMI bigrams."""

    def __init__(self, min_count: int, bigram_min_count: int, pmi_threshold: float, label=None):
        super().__init__(label)
        self.min_count = min_count
        self.bigram_min_count = bigram_min_count
        self.pmi_threshold = pmi_threshold

    def expand(self, texts):
        counted = texts | "Count" >> beam.ParDo(_CountWords()).with_outputs(_CountWords.BIGRAMS, main="unigrams")
        unigram_counts = counted.unigrams | "SumUnigrams" >> beam.CombinePerKey(sum)
        n = (unigram_counts | "Counts" >> beam.Values()
             | "TotalWords" >> beam.CombineGlobally(sum))
        unigrams = (unigram_counts
                    | "FrequentUnigrams" >> beam.Filter(lambda kv, m: kv[1] >= m, self.min_count)
                    | "UnigramEntries" >> beam.MapTuple(lambda word, count: (word, "unigram", float(count))))

        m = self.bigram_min_count
        bigram_counts = (counted.bigrams | "SumBigrams" >> beam.CombinePerKey(sum)
                         | "FrequentBigrams" >> beam.Filter(lambda kv, m: kv[1] >= m, m))
        # A pair seen m times has both words seen at least m times: only those counts need joining.
        word_counts = unigram_counts | "CandidateWords" >> beam.Filter(lambda kv, m: kv[1] >= m, m)
        by_first = bigram_counts | "KeyByFirst" >> beam.MapTuple(lambda pair, count: (pair[0], (pair[1], count)))
        by_second = ({"bigrams": by_first, "counts": word_counts}
                     | "JoinFirst" >> beam.CoGroupByKey()
                     | "AttachFirst" >> beam.FlatMap(_with_first_count))
        bigrams = ({"bigrams": by_second, "counts": word_counts}
                   | "JoinSecond" >> beam.CoGroupByKey()
                   | "ScorePMI" >> beam.FlatMap(_scored_bigrams, n=beam.pvalue.AsSingleton(n),
                                                threshold=self.pmi_threshold))
        return (unigrams, bigrams) | "Entries" >> beam.Flatten()


# --- page views and WordNet --------------------------------------------------------------------------------

class _ReadPageviews(beam.DoFn):
    def __init__(self, domains: frozenset[str]):
        self.domains = domains

    def setup(self):
        self.malformed = Metrics.counter("wit.queries", "pageview_malformed_lines")

    def process(self, path):
        yield from pageviews.read_pageviews(path, self.domains, on_malformed=lambda line: self.malformed.inc())


class PageviewQueries(beam.PTransform):
    """Page-view file paths -> (title, "title", summed views) for titles at or above the threshold."""

    def __init__(self, wiki: str, threshold: int, label=None):
        super().__init__(label)
        self.domains = pageviews.wiki_domains(wiki)
        self.threshold = threshold

    def expand(self, paths):
        return (paths
                | "Read" >> beam.ParDo(_ReadPageviews(self.domains))
                | "SumViews" >> beam.CombinePerKey(sum)
                | "Threshold" >> beam.Filter(lambda kv, t: kv[1] >= t, self.threshold)
                | "Entries" >> beam.MapTuple(lambda title, views: (title, "title", float(views))))


class WordNetQueries(beam.PTransform):
    """WordNet data file paths -> (head, "wordnet", number of synsets it heads)."""

    def expand(self, paths):
        return (paths
                | "Heads" >> beam.FlatMap(wordnet.read_heads)
                | "Synsets" >> beam.combiners.Count.PerElement()
                | "Entries" >> beam.MapTuple(lambda head, n: (head, "wordnet", float(n))))


# --- merge, cap and write ----------------------------------------------------------------------------------

def _preferred(candidates):
    """Of one query's (source, score) candidates, the one from the earliest source in SOURCES."""
    return min(candidates, key=lambda c: (SOURCES.index(c[0]), -c[1]))


def select(entries, max_size: int | None = None) -> list[tuple[str, str, float]]:
    """One entry per query already; apply the cap (module docstring) and sort by query."""
    entries = list(entries)
    if max_size is not None and len(entries) > max_size:
        by_source: dict[str, list] = {}
        for entry in entries:
            by_source.setdefault(entry[1], []).append(entry)
        ranked = []
        for source, group in by_source.items():
            group.sort(key=lambda e: (-e[2], e[0]))
            ranked += ((rank / len(group), SOURCES.index(source), e[0], e) for rank, e in enumerate(group))
        ranked.sort(key=lambda r: r[:3])
        entries = [r[3] for r in ranked[:max_size]]
    return sorted(entries, key=lambda e: e[0])


class MergeQueries(beam.PTransform):
    """All sources' entries -> ONE element: the final sorted list of (query, source, score)."""

    def __init__(self, max_size: int | None = None, label=None):
        super().__init__(label)
        self.max_size = max_size

    def expand(self, entries):
        return (entries
                | "ByQuery" >> beam.Map(lambda e: (e[0], (e[1], e[2])))
                | "OneSourceEach" >> beam.CombinePerKey(_preferred)
                | "AsEntries" >> beam.MapTuple(lambda query, best: (query, best[0], best[1]))
                # The list is written as one file anyway; 500k entries are a few tens of MB.
                | "Gather" >> beam.combiners.ToList()
                | "CapAndSort" >> beam.Map(select, self.max_size))


def write_query_list(entries: list[tuple[str, str, float]], output: str) -> list[str]:
    """Write queries.parquet and queries.json into `output`; returns their paths."""
    fs, root = fsspec.core.url_to_fs(output)
    fs.makedirs(root, exist_ok=True)
    table = pa.table({"query": [e[0] for e in entries], "source": [e[1] for e in entries],
                      "score": [e[2] for e in entries]}, schema=QUERY_SCHEMA)
    _replace(fs, f"{root}/{PARQUET_NAME}", lambda f: pq.write_table(table, f, compression="zstd"))
    body = json.dumps([e[0] for e in entries], ensure_ascii=False).encode("utf-8")
    _replace(fs, f"{root}/{JSON_NAME}", lambda f: f.write(body))
    return [f"{output.rstrip('/')}/{name}" for name in (PARQUET_NAME, JSON_NAME)]


def _replace(fs, path: str, write) -> None:
    # Readers never see half a file; a retried bundle just writes it again.
    tmp = f"{path}.tmp"
    with fs.open(tmp, "wb") as f:
        write(f)
    fs.mv(tmp, path)


class _WriteQueryList(beam.DoFn):
    def __init__(self, output: str):
        self.output = output

    def process(self, entries):
        for source, n in sorted(Counter(e[1] for e in entries).items()):
            Metrics.counter("wit.queries", f"kept.{source}").inc(n)
        yield from write_query_list(entries, self.output)


class BuildQueryList(beam.PTransform):
    """PBegin -> the paths written: the whole build of `options`."""

    def __init__(self, options: QueryBuildOptions, label=None):
        super().__init__(label)
        self.options = options

    def expand(self, pbegin):
        o = self.options
        parts = []
        if o.wikipedia:
            parts.append(pbegin
                         | "WikipediaFiles" >> beam.Create(sorted(o.wikipedia))
                         | "ReadWikipedia" >> ReadWikipedia()
                         | "Wikipedia" >> WikipediaQueries(o.min_count, o.bigram_min_count, o.pmi_threshold))
        if o.pageviews:
            parts.append(pbegin
                         | "PageviewFiles" >> beam.Create(sorted(o.pageviews))
                         | "Pageviews" >> PageviewQueries(o.wiki, o.pageview_threshold))
        if o.wordnet:
            parts.append(pbegin
                         | "WordNetFiles" >> beam.Create(wordnet.data_files(o.wordnet))
                         | "WordNet" >> WordNetQueries())
        return (parts
                | "AllSources" >> beam.Flatten()
                | "Merge" >> MergeQueries(o.max_size)
                | "Write" >> beam.ParDo(_WriteQueryList(o.output)))


@dataclass(frozen=True)
class BuildSummary:
    output: str
    per_source: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.per_source.values())

    def report(self) -> str:
        parts = ", ".join(f"{self.per_source.get(s, 0):,} {s}" for s in SOURCES if s in self.per_source)
        return f"{self.total:,} queries ({parts}) in {self.output}/{PARQUET_NAME} and {JSON_NAME}"


def expand_paths(paths, what: str) -> tuple[str, ...]:
    """Files named by paths, globs or folders (a folder gives every file under it), sorted within each;
    an error naming the first that matches nothing, so a typo fails before the pipeline starts."""
    files = []
    for item in paths:
        found = list_files(item)
        if not found:
            raise FileNotFoundError(f"no {what} at {item}")
        files += found
    return tuple(files)


def build_queries(options: QueryBuildOptions, beam_args: list[str] | tuple[str, ...] = ()) -> BuildSummary:
    """Run the build (FnApiRunner unless `beam_args` name another runner) and summarise what it wrote."""
    # Inputs are checked here, before the pipeline starts: a typo is one clear line, not a worker traceback.
    options = replace(options, wikipedia=expand_paths(options.wikipedia, "Wikipedia input"),
                      pageviews=expand_paths(options.pageviews, "page-view file"))
    if options.wordnet:
        wordnet.data_files(options.wordnet)
    with beam.Pipeline(options=PipelineOptions([*DEFAULT_BEAM_ARGS, *beam_args])) as p:
        _ = p | "BuildQueries" >> BuildQueryList(options)
    fs, root = fsspec.core.url_to_fs(options.output)
    with fs.open(f"{root}/{PARQUET_NAME}", "rb") as f:
        sources = pq.read_table(f, columns=["source"]).column("source").to_pylist()
    counts = Counter(sources)
    return BuildSummary(options.output, {s: counts.get(s, 0) for s in options.sources})
