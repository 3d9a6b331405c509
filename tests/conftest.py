"""Shared fixtures. Test directories have no __init__.py: test files need unique basenames."""
import pytest

from wit_pipeline.testbed import TestWeb


@pytest.fixture(scope="session")
def web():
    """One local test web for the whole session.

    stall_seconds=5: longer than the ~1 s client timeouts tests use, so stall and drip still read as
    timeouts, yet short enough that no abandoned handler lingers. Hits and fault counters are shared:
    use distinct paths or call ``web.reset_state()``.
    """
    with TestWeb(stall_seconds=5) as testweb:
        yield testweb


@pytest.fixture(scope="session")
def mini_corpus(web, tmp_path_factory):
    """`wit build` run once on a WARC of 25 mini-web pages (3 of them twice); shared, read-only, by the tests of a built corpus.

    Returns {"out": folder, "summary": run()'s summary, "argv": the arguments it ran with}."""
    from queries import DEFAULT_QUERIES
    from wit_pipeline.pipeline import run
    from wit_pipeline.testbed.warc import write_warc

    root = tmp_path_factory.mktemp("mini_corpus")
    warc = str(root / "site.warc.gz")
    # Pages 0-2 crawled twice (as two crawls of a site would): their pairs reach dedup twice.
    write_warc(warc, [web.url(f"/site/{n}.html") for n in (*range(25), 0, 1, 2)])
    out = str(root / "corpus")
    argv = ["--input", warc, "--queries", str(DEFAULT_QUERIES), "--output", out, "--balance_t", "5",
            "--shard_size", "40", "--image_size", "64", "--allow_network", "127.0.0.0/8",
            "--download_timeout", "10", "--runner", "FnApiRunner"]
    return {"out": out, "summary": run(argv), "argv": argv}


# Damaged or mislabelled manifests: kind -> (file name, contents, what the one-line error must say).
_HEADER = b"url,caption\n"
_BAD_MANIFESTS = {
    "duplicate_header": ("dup.csv", b"url,url,caption\nhttp://e.com/1.jpg,http://e.com/2.jpg,hi\n",
                         "'url' appears more than once"),
    "empty_csv": ("empty.csv", b"", "empty"),
    "empty_jsonl": ("empty.jsonl", b"", "empty"),
    "empty_parquet": ("empty.parquet", b"", "parquet"),
    "truncated_parquet": ("cut.parquet", None, "parquet"),
    "broken_jsonl": ("bad.jsonl", b'{"url": "http://e.com/1.jpg", "caption": "a"}\n{"url": "http://e.com/2.jpg", '
                                  b'broken\n', "line 2 is not valid JSON"),
    "latin1_csv": ("latin.csv", _HEADER + b"http://e.com/1.jpg,caf\xe9\n", "line 2 is not UTF-8"),
    "latin1_jsonl": ("latin.jsonl", b'{"url": "http://e.com/1.jpg", "caption": "caf\xe9"}\n', "line 1 is not UTF-8"),
    "no_url_column": ("nourl.csv", b"link,caption\nhttp://e.com/1.jpg,hi\n", "column"),
}


@pytest.fixture
def bad_manifest(tmp_path):
    """make(kind) -> (path, phrase): a damaged manifest file and what its error message must say."""
    def make(kind):
        name, data, phrase = _BAD_MANIFESTS[kind]
        path = tmp_path / name
        if data is None:  # a Parquet file cut in half
            import pyarrow as pa
            import pyarrow.parquet as pq
            pq.write_table(pa.table({"url": [f"http://e.com/{i}.jpg" for i in range(500)], "caption": ["c"] * 500}),
                           path)
            data = path.read_bytes()[: path.stat().st_size // 2]
        path.write_bytes(data)
        return str(path), phrase
    return make


def pytest_generate_tests(metafunc):
    """A test with a `bad_manifest_kind` argument runs once per kind of damaged manifest."""
    if "bad_manifest_kind" in metafunc.fixturenames:
        metafunc.parametrize("bad_manifest_kind", sorted(_BAD_MANIFESTS))
