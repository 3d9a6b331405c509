"""Damaged manifests read by the crawl stage (`wit build`, `wit candidates`): one error naming the file, no
exception out of the reader (a bad file among many must not stop the job)."""
from transforms.crawl.manifest import read_manifest
from transforms.crawl.options import CrawlOptions
from transforms.crawl.stats import FileStats


def test_a_damaged_manifest_is_one_error_naming_it(bad_manifest, bad_manifest_kind):
    path, phrase = bad_manifest(bad_manifest_kind)
    stats = FileStats(path)
    assert list(read_manifest(path, CrawlOptions(), stats)) == []
    [error] = stats.errors
    assert error["error"].startswith(path) and phrase in error["error"] and "\n" not in error["error"]
