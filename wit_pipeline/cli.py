"""`wit`: the command line. Each command lives in wit_pipeline/commands/ and registers its own arguments."""
from __future__ import annotations

import argparse
import logging
import os
import sys

from wit_pipeline.commands import build, candidates, demo, download, queries, testbed
from wit_pipeline.commands import evaluate, show, stats, tokenizer, train
from wit_pipeline import flags

COMMANDS = {
    "build": build,
    "candidates": candidates,
    "demo": demo,
    "download": download,
    "queries": queries,
    "testbed": testbed,
    "stats": stats,
    "show": show,
    "train": train,
    "eval": evaluate,
    "tokenizer": tokenizer,
}


class CommandError(Exception):
    """A failure the user can fix: printed as `wit CMD: error: message`, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wit", description="Build CLIP-style (image, alt text) corpora from web crawls, and train on them.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in COMMANDS.items():
        module.register(sub.add_parser(name, help=module.HELP, description=module.__doc__,
                                       formatter_class=flags.HelpFormatter, allow_abbrev=False))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((word for word in argv if not word.startswith("-")), None)
    if hasattr(COMMANDS.get(command), "translate_argv"):  # another tool's command line (img2dataset's)
        at = argv.index(command) + 1
        try:
            argv = argv[:at] + COMMANDS[command].translate_argv(argv[at:])
        except ValueError as e:
            print(f"wit {command}: error: {e}", file=sys.stderr)
            return 2
    # Everything after `--`, and every flag wit does not know, is Beam's (for the commands that run on Beam).
    own, after = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    args, unknown = parser.parse_known_args(own)
    module = COMMANDS[args.command]
    if (unknown or after) and not getattr(module, "BEAM_ARGS", False):
        parser.error(f"unrecognized arguments: {' '.join(unknown + after)}")
    args.extra_args = unknown + after
    args.command_argv = argv[argv.index(args.command) + 1:]
    try:
        return module.run(args) or 0
    except KeyboardInterrupt:
        print(f"wit {args.command}: interrupted", file=sys.stderr)
        return 130
    except (CommandError, ValueError, OSError) as e:  # OSError: missing files, permissions, a full disk
        print(f"wit {args.command}: error: {e}", file=sys.stderr)
        return 2


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
