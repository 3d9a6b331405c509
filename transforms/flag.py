"""`opt()`: an options-dataclass field with its command-line help, so the dataclass is the single source of a
setting's name, default, help and checks. wit_pipeline/flags.py turns the fields into argparse flags.

Metadata keys (all optional but `help`):
- help: one line, without the default (the flag's help shows the default itself);
- flag: the flag's name when it is not the field's (`--manifest-format` for ManifestOptions.input_format);
- invert: a bool field set by a flag that says the opposite (`--ignore-robots` sets respect_robots False);
- choices: the accepted values; repeat: a list flag that may be given several times (each may hold commas;
  repeat="append": each is one item);
- parse: str -> value, for values that are not plain int, float, str, bool or comma-separated lists, with
  shown: the default as the text `parse` reads (what --help shows);
- nargs, metavar: as argparse's (nargs="+" for a list of paths given as separate words);
- cli: False for a field that no command line sets (set by the program, like a stage's output folder).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable


def opt(default: Any = dataclasses.MISSING, help: str = "", *, default_factory: Any = dataclasses.MISSING,
        flag: str | None = None, invert: bool = False, choices: tuple | None = None, repeat: bool = False,
        parse: Callable[[str], Any] | None = None, shown: str | None = None, nargs: str | None = None,
        metavar: str | None = None, cli: bool = True) -> Any:
    metadata = {"help": help, "flag": flag, "invert": invert, "choices": choices, "repeat": repeat,
                "parse": parse, "shown": shown, "nargs": nargs, "metavar": metavar, "cli": cli}
    return dataclasses.field(default=default, default_factory=default_factory, metadata=metadata)
