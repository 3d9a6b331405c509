"""`wit`: the command line. Each command lives in wit_pipeline/commands/ and registers its own arguments."""
from __future__ import annotations

import argparse
import logging
import os
import sys

from wit_pipeline import runner
from wit_pipeline.commands import build, candidates, demo, download, queries, shards, testbed
from wit_pipeline.commands import evaluate, show, stats, tokenizer, train
from wit_pipeline.commands import filter as filter_command
from wit_pipeline.commands import decontaminate, score

COMMANDS = {
    "build": build,
    "candidates": candidates,
    "demo": demo,
    "download": download,
    "shards": shards,
    "queries": queries,
    "testbed": testbed,
    "stats": stats,
    "show": show,
    "train": train,
    "eval": evaluate,
    "tokenizer": tokenizer,
    "score": score,
    "filter": filter_command,
    "decontaminate": decontaminate,
}


def build_parser() -> argparse.ArgumentParser:
    return runner.build_parser(COMMANDS)


def main(argv: list[str] | None = None) -> int:
    return runner.run(sys.argv[1:] if argv is None else argv, COMMANDS)


def entry() -> None:
    """The `wit` console command: main(), then exit without interpreter finalisation.

    After a Beam pipeline, a native library's threads sometimes race the interpreter's shutdown and abort
    the process ("terminate called without an active exception", exit 134) after the work succeeded.
    Everything of ours is closed explicitly by now (pools, sessions, files), so flush and leave at once.
    """
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
