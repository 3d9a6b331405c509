"""transforms/download/provenance.py: what a record holds and how two records are compared."""
from dataclasses import dataclass, field

from transforms.download.options import DownloadOptions, ImageOptions
from transforms.download.provenance import DOWNLOAD_RUN_OPTIONS, differences, fingerprint, option_values, record


def test_every_option_is_recorded_but_those_that_never_change_bytes():
    values = option_values(DownloadOptions(output="o", processes=4, image=ImageOptions(image_size=128)),
                           DOWNLOAD_RUN_OPTIONS)
    assert values["image.image_size"] == 128 and values["shard_size"] == 10_000
    assert values["fetch.allowed_networks"] == [] and "manifest.url_col" in values
    assert not {"output", "processes", "progress", "fetch.concurrency", "fetch.total_timeout"} & values.keys()


def test_a_new_option_is_recorded_without_being_listed():
    @dataclass(frozen=True)
    class Inner:
        new_knob: int = 3
        concurrency: int = 8

    @dataclass(frozen=True)
    class Outer:
        inner: Inner = field(default_factory=Inner)
        output: str = "x"

    assert option_values(Outer(), frozenset({"output", "inner.concurrency"})) == {"inner.new_knob": 3}


def test_fingerprint_follows_content_not_name(tmp_path):
    big = bytes(range(256)) * 20_000  # 5 MB: head and tail sampled
    (tmp_path / "a.csv").write_bytes(big)
    (tmp_path / "b.csv").write_bytes(big)
    (tmp_path / "c.csv").write_bytes(big[:-1] + b"!")
    a, b, c = (fingerprint(str(tmp_path / n)) for n in ("a.csv", "b.csv", "c.csv"))
    assert differences(record("download", [a], {}), record("download", [b], {})) == []
    assert differences(record("download", [a], {}), record("download", [c], {})) == [
        f"input {a['path']} -> {c['path']}"]
    (tmp_path / "a.csv").write_bytes(big + b"appended")
    assert differences(record("download", [a], {}), record("download", [fingerprint(a["path"])], {})) == [
        f"{a['path']} has changed"]


def test_differences_say_what_changed():
    old = record("download", [{"path": "gs://b/m.parquet"}], {"image.image_size": 256, "gone": 1})
    new = record("build", [{"path": "gs://b/m.parquet"}], {"image.image_size": 128, "added": 2})
    assert differences(old, new) == ["made by wit download, not wit build", "image.image_size 256 -> 128"]
