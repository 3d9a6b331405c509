"""Unit tests of transforms/download/manifest.py: formats, compression, inputs, columns and errors."""
from __future__ import annotations

import csv
import gzip
import json
import uuid

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from transforms.download.manifest import ManifestError, count_rows, detect_format, expand_inputs, iter_shards
from transforms.download.options import ManifestOptions

N = 25


def rows(n: int = N, start: int = 0) -> list[dict]:
    return [{"url": f"http://example.com/{i}.jpg", "caption": f"caption {i}", "extra": i, "tag": f"t{i % 3}"}
            for i in range(start, start + n)]


def write(path, records: list[dict], fmt: str | None = None) -> str:
    """Write records as the format the name says (or `fmt`), gzip when the name ends in .gz."""
    path = str(path)
    fmt = fmt or path.removesuffix(".gz").rsplit(".", 1)[-1]
    opener = gzip.open if path.endswith(".gz") else open
    if fmt == "parquet":
        pq.write_table(pa.Table.from_pylist(records), path)
    elif fmt in ("csv", "tsv"):
        with opener(path, "wt", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(records[0]), delimiter="\t" if fmt == "tsv" else ",")
            writer.writeheader()
            writer.writerows(records)
    else:
        with opener(path, "wt") as f:
            f.writelines(json.dumps(r) + "\n" for r in records)
    return path


def shards(inputs, shard_size=10, **options):
    return list(iter_shards(inputs if isinstance(inputs, list) else [inputs], ManifestOptions(**options),
                            shard_size))


def check_shards(result, n=N, shard_size=10, start=0):
    """Shard ids 0.., sizes shard_size.. then the rest, rows in input order."""
    sizes = [min(shard_size, n - i) for i in range(0, n, shard_size)]
    assert [shard_id for shard_id, _, _ in result] == list(range(len(sizes)))
    assert [table.num_rows for _, table, _ in result] == sizes
    urls = [u for _, table, _ in result for u in table.column("url").to_pylist()]
    assert urls == [f"http://example.com/{i}.jpg" for i in range(start, start + n)]
    captions = [c for _, table, _ in result for c in table.column("caption").to_pylist()]
    assert captions == [f"caption {i}" for i in range(start, start + n)]
    for _, table, _ in result:
        assert table.schema.field("url").type == pa.string()
        assert table.schema.field("caption").type == pa.string()


# --- formats ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["m.parquet", "m.csv", "m.tsv", "m.jsonl", "m.csv.gz", "m.jsonl.gz", "m.tsv.gz",
                                  "m.json", "m.ndjson"])
def test_formats(tmp_path, name):
    fmt = {"json": "jsonl", "ndjson": "jsonl"}.get(name.rsplit(".", 1)[-1])
    path = write(tmp_path / name, rows(), fmt)
    result = shards(path)
    check_shards(result)
    for _, table, carry in result:
        assert carry == ["extra", "tag"]
        assert table.column_names == ["url", "caption", "extra", "tag"]
    assert [v for _, t, _ in result for v in t.column("extra").to_pylist()] == list(range(N))


def test_gzip_really_is_compressed(tmp_path):
    path = write(tmp_path / "m.csv.gz", rows())
    with open(path, "rb") as f:
        assert f.read(2) == b"\x1f\x8b"
    check_shards(shards(path))


def test_compressed_parquet_is_read(tmp_path):
    plain = write(tmp_path / "p.parquet", rows())
    with open(plain, "rb") as src, gzip.open(tmp_path / "m.parquet.gz", "wb") as dst:
        dst.write(src.read())
    check_shards(shards(str(tmp_path / "m.parquet.gz")))


@pytest.mark.parametrize("shard_size,sizes", [(1, [1] * 3), (3, [3]), (5, [3]), (2, [2, 1])])
def test_shard_sizes(tmp_path, shard_size, sizes):
    path = write(tmp_path / "m.parquet", rows(3))
    assert [t.num_rows for _, t, _ in shards(path, shard_size=shard_size)] == sizes


def test_exact_multiple_has_no_empty_shard(tmp_path):
    path = write(tmp_path / "m.parquet", rows(20))
    assert [t.num_rows for _, t, _ in shards(path)] == [10, 10]


def test_input_format_option_overrides_the_name(tmp_path):
    path = write(tmp_path / "manifest.data", rows(), "csv")
    check_shards(shards(path, input_format="csv"))
    path = write(tmp_path / "manifest.txt", rows(), "tsv")
    check_shards(shards(path, input_format="tsv"))


def test_csv_with_quotes_commas_and_newlines(tmp_path):
    records = [{"url": "http://a/1.jpg", "caption": 'a "quoted", comma'},
               {"url": "http://a/2.jpg", "caption": "two\nlines"}]
    path = write(tmp_path / "m.csv", records)
    (_, table, _), = shards(path)
    assert table.column("caption").to_pylist() == ['a "quoted", comma', "two\nlines"]


def test_tsv_keeps_quotes_literally(tmp_path):
    path = tmp_path / "m.tsv"
    path.write_text('url\tcaption\nhttp://a/1.jpg\ta "quoted" caption\n')
    (_, table, _), = shards(str(path))
    assert table.column("caption").to_pylist() == ['a "quoted" caption']


def test_empty_caption_is_an_empty_string(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("url,caption\nhttp://a/1.jpg,\nhttp://a/2.jpg,x\n")
    (_, table, _), = shards(str(path))
    assert table.column("caption").to_pylist() == ["", "x"]


# --- several files, folders, globs ------------------------------------------------------------------------

def test_several_files_concatenate_across_boundaries(tmp_path):
    a = write(tmp_path / "a.parquet", rows(7, 0))
    b = write(tmp_path / "b.csv", rows(7, 7))
    c = write(tmp_path / "c.jsonl", rows(11, 14))
    check_shards(shards([a, b, c]))


def test_files_are_read_in_the_order_given(tmp_path):
    second = write(tmp_path / "a.parquet", rows(12, 13))
    first = write(tmp_path / "b.parquet", rows(13, 0))
    check_shards(shards([first, second]))


def test_folder_input_finds_manifest_files_sorted(tmp_path):
    folder = tmp_path / "manifest"
    (folder / "sub").mkdir(parents=True)
    write(folder / "part-2.parquet", rows(5, 20))
    write(folder / "part-0.parquet", rows(10, 0))
    write(folder / "sub" / "part-1.parquet", rows(10, 10))  # "part-2" < "sub/": sorted by full path
    (folder / "_SUCCESS").write_text("")
    (folder / "README.md").write_text("not a manifest")
    files = expand_inputs([str(folder)])
    assert [f.rsplit("/", 1)[-1] for f in files] == ["part-0.parquet", "part-2.parquet", "part-1.parquet"]
    result = shards(str(folder))
    urls = [u for _, t, _ in result for u in t.column("url").to_pylist()]
    assert urls == [f"http://example.com/{i}.jpg" for i in [*range(0, 10), *range(20, 25), *range(10, 20)]]


def test_folder_input_in_order(tmp_path):
    for i in range(3):
        write(tmp_path / f"part-{i}.jsonl", rows(9 if i < 2 else 7, 9 * i))
    check_shards(shards(str(tmp_path)))


def test_glob_input(tmp_path):
    write(tmp_path / "b.csv", rows(10, 10))
    write(tmp_path / "a.csv", rows(10, 0))
    write(tmp_path / "c.csv", rows(5, 20))
    write(tmp_path / "other.parquet", rows(3, 100))
    files = expand_inputs([str(tmp_path / "*.csv")])
    assert [f.rsplit("/", 1)[-1] for f in files] == ["a.csv", "b.csv", "c.csv"]
    check_shards(shards(str(tmp_path / "*.csv")))


def test_glob_matching_nothing_is_an_error(tmp_path):
    with pytest.raises(ManifestError, match="no manifest file"):
        shards(str(tmp_path / "*.parquet"))


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(ManifestError, match="no manifest file"):
        shards(str(tmp_path / "nope.parquet"))


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(ManifestError):
        shards(str(tmp_path))


# --- columns ----------------------------------------------------------------------------------------------

def test_carry_columns_none_carries_every_other_column(tmp_path):
    path = write(tmp_path / "m.parquet", rows())
    for _, table, carry in shards(path):
        assert carry == ["extra", "tag"]
        assert table.column_names == ["url", "caption", "extra", "tag"]


def test_carry_columns_tuple_restricts(tmp_path):
    path = write(tmp_path / "m.parquet", rows())
    result = shards(path, carry_columns=("tag",))
    for _, table, carry in result:
        assert carry == ["tag"]
        assert table.column_names == ["url", "caption", "tag"]
    assert result[0][1].column("tag").to_pylist()[:4] == ["t0", "t1", "t2", "t0"]
    for _, table, carry in shards(path, carry_columns=()):
        assert carry == [] and table.column_names == ["url", "caption"]


def test_carrying_an_absent_column_is_an_error(tmp_path):
    path = write(tmp_path / "m.parquet", rows())
    with pytest.raises(ManifestError, match="nope"):
        shards(path, carry_columns=("nope",))


def test_custom_url_and_caption_columns(tmp_path):
    records = [{"URL": f"http://example.com/{i}.jpg", "TEXT": f"caption {i}", "other": i} for i in range(N)]
    path = write(tmp_path / "m.jsonl", records)
    result = shards(path, url_col="URL", caption_col="TEXT")
    assert [t.num_rows for _, t, _ in result] == [10, 10, 5]
    assert result[0][1].column_names == ["URL", "TEXT", "other"]
    assert result[0][2] == ["other"]
    assert result[0][1].column("TEXT").to_pylist()[0] == "caption 0"


def test_no_caption_column(tmp_path):
    records = [{"url": f"http://example.com/{i}.jpg", "n": i} for i in range(5)]
    path = write(tmp_path / "m.parquet", records)
    (_, table, carry), = shards(path, caption_col=None)
    assert table.column_names == ["url", "n"] and carry == ["n"]


@pytest.mark.parametrize("name", ["m.parquet", "m.jsonl"])
def test_caption_of_digits_stays_a_string(tmp_path, name):
    records = [{"url": f"http://a/{i}.jpg", "caption": str(1000 + i)} for i in range(5)]
    path = write(tmp_path / name, records)
    (_, table, _), = shards(path)
    assert table.schema.field("caption").type == pa.string()
    assert table.column("caption").to_pylist() == [str(1000 + i) for i in range(5)]


def test_caption_of_digits_stays_a_string_in_csv(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("url,caption\nhttp://a/1.jpg,1234\nhttp://a/2.jpg,42\n")
    (_, table, _), = shards(str(path))
    assert table.schema.field("caption").type == pa.string()
    assert table.column("caption").to_pylist() == ["1234", "42"]


@pytest.mark.parametrize("name", ["m.csv", "m.tsv"])
def test_caption_of_digits_keeps_its_text_in_csv(tmp_path, name):
    sep = "\t" if name.endswith("tsv") else ","
    path = tmp_path / name
    path.write_text(f"url{sep}caption\nhttp://a/1.jpg{sep}007\nhttp://a/2.jpg{sep}1.50\nhttp://a/3.jpg{sep}1e3\n")
    (_, table, _), = shards(str(path))
    assert table.column("caption").to_pylist() == ["007", "1.50", "1e3"]


def test_numeric_urls_and_captions_in_parquet_become_strings(tmp_path):
    path = tmp_path / "m.parquet"
    pq.write_table(pa.table({"url": ["http://a/1.jpg"], "caption": pa.array([7], pa.int64())}), str(path))
    (_, table, _), = shards(str(path))
    assert table.column("caption").to_pylist() == ["7"]


def test_missing_url_column_names_the_available_columns(tmp_path):
    path = write(tmp_path / "m.parquet", rows())
    with pytest.raises(ManifestError) as info:
        shards(path, url_col="image_url")
    message = str(info.value)
    assert "image_url" in message
    for column in ("url", "caption", "extra", "tag"):
        assert column in message
    assert "--url-col" in message


def test_missing_caption_column_is_an_error(tmp_path):
    path = write(tmp_path / "m.csv", rows())
    with pytest.raises(ManifestError, match="TEXT"):
        shards(path, caption_col="TEXT")


@pytest.mark.parametrize("carry", [None, ("status",)])
def test_carried_column_named_status_is_an_error(tmp_path, carry):
    records = [{**r, "status": "ok"} for r in rows()]
    path = write(tmp_path / "m.parquet", records)
    with pytest.raises(ManifestError, match="status"):
        shards(path, carry_columns=carry)


def test_output_column_is_fine_when_not_carried(tmp_path):
    records = [{**r, "status": "ok"} for r in rows()]
    path = write(tmp_path / "m.parquet", records)
    check_shards(shards(path, carry_columns=("extra",)))


def test_files_with_different_column_types_are_unified(tmp_path):
    a = write(tmp_path / "a.parquet", rows(12, 0))
    b = tmp_path / "b.parquet"
    pq.write_table(pa.table({"url": [r["url"] for r in rows(13, 12)], "caption": [r["caption"] for r in rows(13, 12)],
                             "extra": pa.array(range(12, 25), pa.int32()),
                             "tag": [r["tag"] for r in rows(13, 12)]}), str(b))
    result = shards([a, str(b)])
    check_shards(result)
    assert {t.schema.field("extra").type for _, t, _ in result} == {pa.int64()}


def test_files_with_different_columns_are_an_error(tmp_path):
    a = write(tmp_path / "a.parquet", rows(12, 0))
    b = write(tmp_path / "b.parquet", [{"url": "http://a/x.jpg", "caption": "x", "other": 1}])
    with pytest.raises(ManifestError):
        shards([a, b])


# --- errors -----------------------------------------------------------------------------------------------

def test_unknown_extension_is_an_error(tmp_path):
    path = tmp_path / "m.xlsx"
    path.write_text("url\nhttp://a/1.jpg\n")
    with pytest.raises(ManifestError, match="--manifest-format"):
        shards(str(path))


def test_unknown_input_format_option_is_an_error(tmp_path):
    path = write(tmp_path / "m.csv", rows())
    with pytest.raises(ManifestError, match="xml"):
        shards(path, input_format="xml")


def test_corrupt_parquet_is_a_manifest_error(tmp_path):
    path = tmp_path / "m.parquet"
    path.write_bytes(b"PAR1 this is not really parquet at all, just bytes " * 20)
    with pytest.raises(ManifestError, match="m.parquet") as info:
        shards(str(path))
    assert not isinstance(info.value, pa.ArrowException)


def test_truncated_parquet_is_a_manifest_error(tmp_path):
    good = write(tmp_path / "good.parquet", rows())
    data = open(good, "rb").read()
    path = tmp_path / "m.parquet"
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(ManifestError):
        shards(str(path))


def test_corrupt_gzip_is_a_manifest_error(tmp_path):
    path = tmp_path / "m.csv.gz"
    path.write_bytes(b"\x1f\x8b this is not gzip data " * 10)
    with pytest.raises(ManifestError):
        shards(str(path))


def test_truncated_gzip_is_a_manifest_error(tmp_path):
    path = write(tmp_path / "full.jsonl.gz", rows(200))
    data = open(path, "rb").read()
    broken = tmp_path / "m.jsonl.gz"
    broken.write_bytes(data[:len(data) // 2])
    with pytest.raises(ManifestError):
        shards(str(broken))


def test_broken_jsonl_is_a_manifest_error(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"url": "http://a/1.jpg", "caption": "x"}\n{"url": broken\n')
    with pytest.raises(ManifestError):
        shards(str(path))


# --- detect_format and count_rows -------------------------------------------------------------------------

@pytest.mark.parametrize("name,fmt", [
    ("x.csv.gz", "csv"), ("x.jsonl", "jsonl"), ("x.json", "jsonl"), ("x.PARQUET", "parquet"), ("x.pq", "parquet"),
    ("x.tsv", "tsv"), ("x.TSV.GZ", "tsv"), ("x.ndjson.bz2", "jsonl"), ("x.txt", "csv"), ("x.parquet.zst", "parquet"),
    ("gs://bucket/dir/x.jsonl.gz", "jsonl"), ("dir.v2/x.csv", "csv"),
])
def test_detect_format(name, fmt):
    assert detect_format(name) == fmt


@pytest.mark.parametrize("name", ["x.xlsx", "x", "x.gz", "x.csv.zip", "dir.csv/x"])
def test_detect_format_unknown(name):
    with pytest.raises(ManifestError):
        detect_format(name)


def test_count_rows(tmp_path):
    a = write(tmp_path / "a.parquet", rows(7))
    b = write(tmp_path / "b.parquet", rows(11))
    c = write(tmp_path / "c.csv", rows(3))
    assert count_rows([a]) == 7
    assert count_rows([a, b]) == 18
    assert count_rows([]) == 0
    assert count_rows([c]) is None
    assert count_rows([a, c]) is None
    assert count_rows([write(tmp_path / "d.jsonl", rows(3))]) is None
    assert count_rows([write(tmp_path / "e.csv.gz", rows(3))]) is None


# --- fsspec URLs ------------------------------------------------------------------------------------------

@pytest.fixture
def memory_root():
    root = f"memory://manifest-tests-{uuid.uuid4().hex}"
    yield root
    fs = fsspec.filesystem("memory")
    if fs.exists(root):
        fs.rm(root, recursive=True)


def write_memory(url: str, records: list[dict]) -> str:
    with fsspec.open(url, "wb") as f:
        pq.write_table(pa.Table.from_pylist(records), f)
    return url


def test_memory_url_input(memory_root):
    url = write_memory(f"{memory_root}/a.parquet", rows())
    check_shards(shards(url))
    assert count_rows([url]) == N


def test_memory_url_jsonl_gz(memory_root):
    with fsspec.open(f"{memory_root}/a.jsonl.gz", "wt", compression="gzip") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows())
    check_shards(shards(f"{memory_root}/a.jsonl.gz"))


def test_memory_folder_and_glob(memory_root):
    write_memory(f"{memory_root}/d/b.parquet", rows(15, 10))
    write_memory(f"{memory_root}/d/a.parquet", rows(10, 0))
    for item in (f"{memory_root}/d", f"{memory_root}/d/*.parquet"):
        files = expand_inputs([item])
        assert all(f.startswith("memory://") for f in files)
        assert [f.rsplit("/", 1)[-1] for f in files] == ["a.parquet", "b.parquet"]
        check_shards(shards(item))
        assert count_rows(files) == N


def test_memory_url_missing_is_an_error(memory_root):
    with pytest.raises(ManifestError):
        shards(f"{memory_root}/missing.parquet")
