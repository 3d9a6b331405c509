"""Candidates in batches between stages (transforms.beam_util): regrouping by key, the batch coder, the bound
on input rows that sizes dedup's buckets, and dedup's output whatever the number of buckets."""
import random

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from transforms import beam_util
from transforms.beam_util import Batch, Regroup, Rows, RowsCoder, Unbatch, chunks, values_of
from transforms.candidate import candidate
from transforms.crawl.inputs import MIN_BYTES_PER_CANDIDATE, REMOTE_FILE_BYTES, candidates_at_most
from transforms.dedup import beam as dedup_beam
from transforms.dedup.beam import Dedup
from transforms.dedup.core import DedupOptions, dedup_url_group


def test_chunks():
    assert list(chunks(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(chunks([], 3)) == []


def test_rows_coder_round_trip_and_a_size_estimate_without_encoding_the_batch():
    rows = [candidate(f"http://x/{i}.jpg", f"a dog {i}") for i in range(500)]
    coder = beam.coders.registry.get_coder(Rows)
    assert isinstance(coder, RowsCoder)
    assert coder.decode(coder.encode(rows)) == rows
    # From the first two rows: within 10% of the real size here, at the cost of encoding two rows.
    assert abs(coder.estimate_size(rows) - len(coder.encode(rows))) < 0.1 * len(coder.encode(rows))
    assert coder.estimate_size(rows[:2]) == len(coder.encode(rows[:2]))
    assert coder.estimate_size([]) == len(coder.encode([]))


@pytest.mark.parametrize("held", [None, 5])
def test_regroup_sends_every_value_of_a_key_to_one_group_with_its_size(monkeypatch, held):
    """Values of a key from many batches meet in one group, whatever the list sizes and the memory bound
    (REGROUP_HELD_ROWS small: the DoFn sends what it holds many times per bundle)."""
    monkeypatch.setattr(beam_util, "BATCH_ROWS", 4)
    if held:
        monkeypatch.setattr(beam_util, "REGROUP_HELD_ROWS", held)
    values = list(range(300))
    batches = list(chunks(values, 17))
    expected = {k: sorted(v for v in values if v % 7 == k) for k in range(7)}
    with TestPipeline(argv=["--runner=FnApiRunner"]) as p:
        grouped, sizes = (p | beam.Create(batches) | Regroup(lambda batch, n: ((v % n, v) for v in batch), 7,
                                                              sizes=True))
        assert_that(grouped | beam.MapTuple(lambda k, lists: (k, sorted(values_of(lists)))),
                    equal_to(list(expected.items())), label="groups")
        assert_that(grouped | "Longest" >> beam.MapTuple(lambda k, lists: max(len(x) for x in lists) <= 4)
                    | beam.Distinct(), equal_to([True]), label="lists")
        assert_that(sizes, equal_to([(k, len(v)) for k, v in expected.items()]), label="sizes")


def test_batch_and_unbatch_keep_every_element():
    with TestPipeline(argv=["--runner=FnApiRunner"]) as p:
        assert_that(p | beam.Create(range(2500)) | Batch() | Unbatch(), equal_to(list(range(2500))))


def test_candidates_at_most(tmp_path):
    manifest = tmp_path / "m.parquet"
    pq.write_table(pa.table({"url": [f"http://x/{i}" for i in range(1234)], "caption": ["a"] * 1234}), manifest)
    wat = tmp_path / "a.wat.gz"
    wat.write_bytes(b"\0" * 4000)
    assert candidates_at_most([(str(manifest), "manifest")]) == 1234  # the footer's row count, exactly
    assert candidates_at_most([(f"file://{manifest}", "manifest")]) == 1234
    assert candidates_at_most([(str(wat), "wat")]) == 4000 // MIN_BYTES_PER_CANDIDATE + 1
    assert candidates_at_most([("gs://bucket/x.wat.gz", "wat")]) == REMOTE_FILE_BYTES // MIN_BYTES_PER_CANDIDATE
    # A file that cannot be read here counts as large: its reader reports the error.
    assert candidates_at_most([(str(tmp_path / "gone.parquet"), "manifest")]) == \
        REMOTE_FILE_BYTES // MIN_BYTES_PER_CANDIDATE


def _dedup_rows():
    rng = random.Random(5)
    rows = [candidate(f"http://h{rng.randint(0, 3)}/{rng.randint(0, 60)}.jpg",
                      rng.choice(["dog", "a dog", "a big dog", "cat", "a cat"]), source=f"f#{rng.randint(0, 9)}")
            for _ in range(400)]
    rng.shuffle(rows)
    return rows


def _expected(rows, cap):
    by_url = {}
    for row in rows:
        by_url.setdefault(row["url"], []).append(row)
    kept, rejected = [], []
    for group in by_url.values():
        group_kept, dropped, _ = dedup_url_group(group, cap)
        kept += [r["uid"] for r in group_kept]
        rejected += [(loser["uid"], loser["source"], reason, f"kept {uid}") for loser, reason, uid in dropped]
    return kept, rejected


@pytest.mark.parametrize("cap", [0, 1])
@pytest.mark.parametrize("bucket_rows, given", [(10**9, None), (50, None), (50, 10_000)])
def test_dedup_is_the_same_with_one_bucket_or_many(monkeypatch, cap, bucket_rows, given):
    """Dedup with one bucket (all rows), several counted ones (400 rows / 50) or many from a bound given by
    the caller (10,000 / 50 = 200), batches of 9 rows: the rows the rules keep and drop, URL by URL."""
    monkeypatch.setattr(beam_util, "BATCH_ROWS", 9)
    monkeypatch.setattr(dedup_beam, "BUCKET_ROWS", bucket_rows)
    rows = _dedup_rows()
    kept, rejected = _expected(rows, cap)
    assert rejected and len(kept) + len(rejected) == len(rows)
    with TestPipeline(argv=["--runner=FnApiRunner"]) as p:
        result = p | beam.Create(list(chunks(rows, 23))) | Dedup(DedupOptions(captions_per_url=cap), rows=given)
        assert_that(result["kept"] | "K" >> Unbatch() | beam.Map(lambda r: r["uid"]), equal_to(kept), label="kept")
        assert_that(result["rejected"] | "R" >> Unbatch()
                    | beam.Map(lambda r: (r["uid"], r["source"], r["reason"], r["detail"])),
                    equal_to(rejected), label="rejected")
