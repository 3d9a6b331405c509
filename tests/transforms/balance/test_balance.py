"""Balancing: the keep rates follow 1 - prod(1 - min(1, t/count)), and the kept set is runner-independent."""
import math
import os

import apache_beam as beam
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from transforms.balance.beam import Balance, WriteQueryCounts
from transforms.balance.core import BalanceOptions, decide, draw, expected_keep_rate, keep_probability
from transforms.beam_util import Batch, Unbatch


def test_probability_and_draws():
    assert keep_probability(10, 20) == 1.0 and keep_probability(40, 20) == 0.5
    values = [draw(0, f"uid{i}", 3) for i in range(2000)]
    assert all(0 <= v < 1 for v in values) and abs(sum(values) / len(values) - 0.5) < 0.03
    assert draw(0, "u", 1) == draw(0, "u", 1) != draw(1, "u", 1) != draw(0, "u", 2)
    with pytest.raises(ValueError):
        BalanceOptions(t=0)


def skewed_candidates():
    """Query 0 is a head query (6000 texts), 1 a mid one (600), 2 the tail (30); some texts match two."""
    rows = [(f"h{i}", [0]) for i in range(5000)] + [(f"m{i}", [1]) for i in range(500)]
    rows += [(f"hm{i}", [0, 1]) for i in range(1000)] + [(f"ht{i}", [0, 2]) for i in range(30)]
    return rows


def test_keep_rates_follow_the_formula():
    rows = skewed_candidates()
    counts = {0: 6030, 1: 1500, 2: 30}
    options = BalanceOptions(t=300, seed=11)
    groups = {}
    for uid, ids in rows:
        groups.setdefault(tuple(ids), []).append(decide(uid, ids, counts, options))
    for ids, decisions in groups.items():
        p = expected_keep_rate(ids, counts, options.t)
        n, kept = len(decisions), sum(decisions)
        sigma = math.sqrt(n * p * (1 - p)) or 1e-9
        assert abs(kept - n * p) <= 4 * sigma, (ids, kept, n * p)
    assert all(groups[(0, 2)])  # a tail query keeps the pair whole, whatever the head says
    # Head queries end near t: about 300 of the 6030 texts of query 0 survive through query 0 alone.
    assert 200 < sum(groups[(0,)]) < 400


def _matched(rows):
    return [{"uid": uid, "url": f"http://x/{uid}.jpg", "text": uid, "matched_queries": ids} for uid, ids in rows]


def _run(argv, rows, expected, out_path=None):
    with TestPipeline(argv=argv) as p:
        result = p | beam.Create(_matched(rows)) | Batch() | Balance(BalanceOptions(t=300, seed=11))
        assert_that(result["kept"] | Unbatch() | beam.Map(lambda e: e["uid"]), equal_to(expected))
        if out_path:
            result["query_counts"] | WriteQueryCounts(out_path)


def test_same_kept_set_on_fnapi_and_multiprocessing_runners(tmp_path):
    rows = skewed_candidates()
    counts = {0: 6030, 1: 1500, 2: 30}
    expected = sorted(uid for uid, ids in rows if decide(uid, ids, counts, BalanceOptions(t=300, seed=11)))
    path = str(tmp_path / "query_counts.parquet")
    _run(["--runner=FnApiRunner"], rows, expected, path)
    _run(["--runner=FnApiRunner", "--direct_running_mode=multi_processing", "--direct_num_workers=2"], rows,
         expected)
    table = pq.read_table(path).to_pylist()
    assert [r["query_id"] for r in table] == [0, 1, 2]
    assert [r["count_before"] for r in table] == [6030, 1500, 30]
    after = {q: sum(1 for uid, ids in rows if uid in set(expected) and q in ids) for q in (0, 1, 2)}
    assert [r["count_after"] for r in table] == [after[0], after[1], after[2]]
    assert table[2]["keep_probability"] == 1.0 and table[0]["keep_probability"] == pytest.approx(300 / 6030)


def test_rejected_rows_say_why():
    rows = [(f"h{i}", [0]) for i in range(50)]
    with TestPipeline(argv=["--runner=FnApiRunner"]) as p:
        result = p | beam.Create(_matched(rows)) | Batch() | Balance(BalanceOptions(t=5))
        assert_that(result["rejected"] | Unbatch() | beam.Map(lambda r: (r["stage"], r["reason"])) | beam.Distinct(),
                    equal_to([("balance", "balanced_out")]))
