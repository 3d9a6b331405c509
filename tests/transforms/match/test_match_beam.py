import json

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from transforms.candidate import candidate
from transforms.match.beam import MatchQueries
from transforms.beam_util import Batch, Unbatch


def test_match_queries_annotates_and_rejects(tmp_path):
    path = tmp_path / "queries.json"
    path.write_text(json.dumps(["dog", "hot dog", "beach"]))
    texts = [f"a dog number {i}" for i in range(1500)] + ["a hot dog on the beach", "nothing here"]
    elements = [candidate(f"http://x/{i}.jpg", t) for i, t in enumerate(texts)]  # > one batch of 1000
    with TestPipeline(argv=["--runner=FnApiRunner"]) as p:
        result = p | beam.Create(elements) | Batch() | MatchQueries(str(path))
        assert_that(result["kept"] | Unbatch() | beam.Map(lambda e: (e["text"], tuple(e["matched_queries"]))),
                    equal_to([(t, (0,)) for t in texts[:1500]] + [("a hot dog on the beach", (0, 1, 2))]),
                    label="kept")
        assert_that(result["rejected"] | Unbatch() | beam.Map(lambda r: (r["text"], r["stage"], r["reason"])),
                    equal_to([("nothing here", "match", "no_query_match")]), label="rejected")


def test_worker_threads_share_one_matcher(tmp_path):
    """Each DoFn copy a worker's threads unpickle acquires the same matcher (Beam's Shared), built once."""
    import pickle

    from transforms.match.beam import _MatchFn

    path = tmp_path / "queries.json"
    path.write_text(json.dumps(["dog", "hot dog"]))
    fn = _MatchFn(str(path))
    copies = [pickle.loads(pickle.dumps(fn)) for _ in range(3)]
    for copy in copies:
        copy.setup()
    assert copies[0].matcher is copies[1].matcher is copies[2].matcher
    assert copies[2].matcher.match("a hot dog") == [0, 1]
