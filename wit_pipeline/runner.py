"""Running `wit` commands from a command line: the parser made from command modules (each registers its own
arguments) and the dispatch (another tool's command line translated, Beam's flags passed on, a failure the
user can fix printed as `wit CMD: error: message`, exit status 2). `wit` (cli.py) runs every command through
it; the demo runs the few it needs the same way."""
from __future__ import annotations

import argparse
import sys

from wit_pipeline import flags


class CommandError(Exception):
    """A failure the user can fix: printed as `wit CMD: error: message`, exit status 2."""


def build_parser(commands: dict) -> argparse.ArgumentParser:
    """The `wit` parser with one sub-command per entry of `commands` (name -> command module)."""
    parser = argparse.ArgumentParser(
        prog="wit", description="Build CLIP-style (image, alt text) corpora from web crawls, and train on them.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in commands.items():
        module.register(sub.add_parser(name, help=module.HELP, description=module.__doc__,
                                       formatter_class=flags.HelpFormatter, allow_abbrev=False))
    return parser


def run(argv: list[str], commands: dict) -> int:
    """Parse `argv` (without the program name) with `commands` and run the command it names: its exit status."""
    parser = build_parser(commands)
    argv = list(argv)
    command = next((word for word in argv if not word.startswith("-")), None)
    if hasattr(commands.get(command), "translate_argv"):  # another tool's command line (img2dataset's)
        at = argv.index(command) + 1
        try:
            argv = argv[:at] + commands[command].translate_argv(argv[at:])
        except ValueError as e:
            print(f"wit {command}: error: {e}", file=sys.stderr)
            return 2
    # Everything after `--`, and every flag wit does not know, is Beam's (for the commands that run on Beam).
    own, after = flags.split_beam_args(argv)
    args, unknown = parser.parse_known_args(own)
    module = commands[args.command]
    if (unknown or after) and not getattr(module, "BEAM_ARGS", False):
        parser.error(f"unrecognized arguments: {' '.join(unknown + after)}")
    args.extra_args = unknown + after
    try:
        return module.run(args) or 0
    except KeyboardInterrupt:
        print(f"wit {args.command}: interrupted", file=sys.stderr)
        return 130
    except (CommandError, ValueError, OSError) as e:  # OSError: missing files, permissions, a full disk
        print(f"wit {args.command}: error: {e}", file=sys.stderr)
        return 2
