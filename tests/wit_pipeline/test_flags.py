"""One flag convention: every stage option reachable from `wit build`, one name per setting in every command,
dashes shown and underscores accepted, older names still accepted, every help stating its true default."""
import argparse
import dataclasses
import re

import pytest

from transforms.balance import BalanceOptions
from transforms.crawl.options import CrawlOptions
from transforms.download.options import DownloadOptions, FetchOptions, ImageOptions
from transforms.language.options import LanguageOptions
from transforms.text import TextOptions
from wit_pipeline import flags
from wit_pipeline.cli import build_parser
from wit_pipeline.options import _SET_BY_BUILD, build_config, build_parser as build_command_parser

BASE = ["--input", "x.warc.gz", "--output", "out", "--queries", "q.json"]


def subparser(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[name]


def stage_fields():
    """(dataclass, field) of every option the stages define for the command line."""
    for cls in (CrawlOptions, TextOptions, LanguageOptions, BalanceOptions, DownloadOptions, ImageOptions,
                FetchOptions):
        for path, f in flags.leaves(cls, recurse=False):
            if cls is DownloadOptions and f.name in _SET_BY_BUILD:
                continue  # the build sets these itself (output folder, one process per worker, no bar)
            yield cls, f


def flag_name(f) -> str:
    return "--" + (f.metadata.get("flag") or f.name).replace("_", "-")


def test_every_stage_option_is_in_wit_build_help():
    text = subparser("build").format_help()
    missing = [f"{cls.__name__}.{f.name} ({flag_name(f)})" for cls, f in stage_fields()
               if not re.search(re.escape(flag_name(f)) + r"\b", text)]
    assert not missing, missing


def test_every_stage_option_reaches_its_dataclass():
    """Each flag, given a value other than its default, changes exactly its field in the BuildConfig."""
    default = build_config(BASE)
    for cls, f in stage_fields():
        meta, value = f.metadata, getattr(cls(**({"output": "o"} if cls is DownloadOptions else {})), f.name)
        if isinstance(value, bool):
            argv = [flag_name(f)] if meta.get("invert") or not value else ["--no-" + flag_name(f)[2:]]
        elif meta.get("choices"):
            argv = [flag_name(f), next(c for c in meta["choices"] if c != value and c is not None)]
        elif f.name in ("keep", "restrict"):
            argv = [flag_name(f), "de,fr"]
        elif f.name == "allowed_networks":
            argv = [flag_name(f), "10.0.0.0/8"]
        elif isinstance(value, tuple) or isinstance(value, str) or value is None:
            argv = [flag_name(f), "gzip" if f.name == "opt_out_directives" else "abc"] \
                if f.type not in ("int | None",) else [flag_name(f), "7"]
        else:
            argv = [flag_name(f), str(type(value)(value + 1) if value != 0 else 1)]
        try:
            changed = build_config(BASE + argv)
        except ValueError:
            continue  # a value the dataclass itself refuses (a column name it checks, say): reached it
        assert changed != default, (cls.__name__, f.name, argv)


def test_dashes_shown_underscores_and_old_names_accepted():
    for command in ("build", "download", "candidates"):  # the usage and the option lines, not the prose
        text = subparser(command).format_help().split("\n\n", 1)[0] + "\n".join(
            line for line in subparser(command).format_help().splitlines() if line.startswith("  -"))
        assert not re.search(r"--[a-z]+_[a-z_]+", text), (command, re.findall(r"--[a-z]+_[a-z_]+", text))
    assert build_config(BASE + ["--image_size", "64"]) == build_config(BASE + ["--image-size", "64"])
    old = build_config(BASE + ["--download_timeout", "7", "--download_concurrency", "3", "--text_col", "alt",
                               "--balance_t", "9", "--min_text_chars", "4"])
    assert (old.download.fetch.total_timeout, old.download.fetch.concurrency, old.crawl.text_col,
            old.balance.t, old.text.min_chars) == (7.0, 3, "alt", 9, 4)


def test_one_name_per_setting_in_every_command():
    """The same setting has the same flag wherever it is offered (download, candidates, build)."""
    offered = {name: {s for a in subparser(name)._actions for s in a.option_strings}
               for name in ("build", "download", "candidates")}
    for flag in ("--total-timeout", "--concurrency", "--image-size", "--shard-size", "--allow-network",
                 "--ignore-robots", "--image-formats", "--max-body-bytes"):
        assert flag in offered["build"] and flag in offered["download"], flag
    for flag in ("--manifest-format", "--caption-col", "--url-col"):
        assert all(flag in offered[c] for c in offered), flag
    assert "--input-kind" in offered["build"] and "--input-kind" in offered["candidates"]


def test_input_format_changed_meaning_and_says_so(capsys):
    with pytest.raises(SystemExit):
        build_command_parser().parse_known_args(BASE + ["--input_format", "wat"])
    assert "--input-kind" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["build", "download", "candidates", "queries"])
def test_every_help_states_its_true_default(command):
    parser = subparser(command)
    if command == "queries":
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices["build"]
    formatter = flags.HelpFormatter("wit")
    for action in parser._actions:
        if not action.option_strings or action.help in (None, argparse.SUPPRESS) or action.dest == "help":
            continue
        shown = formatter._expand_help(action) if "%(" in formatter._get_help_string(action) else \
            formatter._get_help_string(action)
        if action.default not in (None, [], (), "", argparse.SUPPRESS) and "default:" not in (action.help or ""):
            assert f"(default: {action.default})" in shown, (action.dest, shown)
        assert action.help.strip(), action.dest


def test_no_progress_is_progress_false():
    parser = subparser("download")
    args, _ = parser.parse_known_args(["m.parquet", "--output", "o", "--no-progress"])
    assert args.progress is False
    assert parser.get_default("progress") is True


def test_flags_are_made_from_the_dataclass_defaults():
    """No default is written twice: each flag's default is its field's."""
    parser = subparser("download")
    defaults = {a.dest: a.default for a in parser._actions}
    assert defaults["image_size"] == ImageOptions.image_size
    assert defaults["concurrency"] == FetchOptions.concurrency
    assert defaults["shard_size"] == DownloadOptions.shard_size
    assert defaults["ignore_robots"] is (not FetchOptions.respect_robots)
    assert {f.name for f in dataclasses.fields(ImageOptions)} <= {a.dest for a in parser._actions}


def test_every_flag_of_every_command_has_help():
    def walk(name, parser):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub, p in action.choices.items():
                    yield from walk(f"{name} {sub}", p)
            elif action.option_strings and action.dest != "help" and action.help != argparse.SUPPRESS:
                yield name, action
    missing = [(name, a.option_strings) for name, a in walk("wit", build_parser()) if not (a.help or "").strip()]
    assert not missing, missing
    # A negative flag alone would show its field's default ("--no-progress ... default: True"): none is left.
    negative = [(name, a.option_strings) for name, a in walk("wit", build_parser())
                if a.option_strings[0].startswith("--no-") and not isinstance(a, argparse.BooleanOptionalAction)]
    assert not negative, negative
