"""Command-line flags made from the stages' options dataclasses (transforms/flag.py's `opt()` fields), so each
setting has one name, one default and one help text in every command that offers it.

The convention: wit's own flags are spelt with dashes (`--image-size`) and shown so in --help; the underscore
spelling (`--image_size`) is accepted everywhere too, and so are a command's older names (hidden aliases).
Beam's own flags keep Beam's spelling (`--direct_num_workers`). Values: a bool is `--x` / `--no-x` (or one
flag that says the opposite, like `--ignore-robots`), a tuple is comma-separated (repeatable where marked).
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class Flag:
    dest: str  # argparse's attribute, and the flag's name with underscores
    path: tuple  # field names from the root dataclass down to this field
    field: dataclasses.Field

    @property
    def meta(self):
        return self.field.metadata


def _shown_strings(action) -> list[str]:
    hidden = getattr(action, "hidden_aliases", ())
    return [s for s in action.option_strings if s not in hidden]


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each flag once, in its dashed spelling (underscore spellings and old names stay hidden), and its
    default, unless the help already says it or there is none to show."""

    def _format_action_invocation(self, action):
        if getattr(action, "hidden_aliases", ()):
            action = copy.copy(action)
            action.option_strings = _shown_strings(action)
        return super()._format_action_invocation(action)

    def _get_help_string(self, action):
        if action.default in (None, [], (), "") or "default:" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


class _Switch(argparse.BooleanOptionalAction):
    """`--x` / `--no-x`, its usage without the hidden spellings."""

    def format_usage(self):
        return " | ".join(_shown_strings(self))


def _nested(f: dataclasses.Field):
    """The dataclass a field holds (made by its default_factory), else None."""
    factory = f.default_factory
    return factory if isinstance(factory, type) and dataclasses.is_dataclass(factory) else None


def leaves(cls, path: tuple = (), recurse: bool = True):
    """(path, field) of every command-line field of an options dataclass, nested ones included."""
    for f in dataclasses.fields(cls):
        if _nested(f):
            if recurse:
                yield from leaves(_nested(f), path + (f.name,))
        elif f.metadata.get("cli", False):
            yield path + (f.name,), f


def _default(f: dataclasses.Field):
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def _kind(f: dataclasses.Field, default) -> type:
    if isinstance(default, bool):
        return bool
    if isinstance(default, (int, float, str, tuple)):
        return type(default)
    annotation = str(f.type)  # `from __future__ import annotations`: the annotation's text
    for name, kind in (("tuple", tuple), ("float", float), ("int", int), ("bool", bool)):
        if name in annotation:
            return kind
    return str


def _comma_list(text: str) -> tuple:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _shown(value) -> str | None:
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return value


def add_flags(parser, cls, *, path: tuple = (), recurse: bool = True, skip: tuple = (), aliases: dict | None = None,
              group: str | None = None) -> list[Flag]:
    """Add a flag for every command-line field of `cls` (nested dataclasses flattened) to `parser`.

    path: where `cls` sits in the dataclass that build() makes (("image",) for DownloadOptions.image);
    recurse: False leaves nested dataclasses out (to give them groups of their own); skip: field paths
    ("fetch.user_agent") or names left out; aliases: dest -> older names also accepted."""
    target = parser.add_argument_group(group) if group else parser
    aliases = aliases or {}
    made = []
    for here, f in leaves(cls, path, recurse):
        meta = f.metadata
        dest = (meta.get("flag") or f.name).replace("-", "_")
        if ".".join(here) in skip or dest in skip or f.name in skip:
            continue
        dashed = "--" + dest.replace("_", "-")
        hidden = [f"--{dest}"] if "_" in dest else []
        hidden += [f"--{a}" for a in aliases.get(dest, ())]
        default = _default(f)
        kind = _kind(f, default)
        kwargs = {"dest": dest, "help": meta.get("help") or None}
        if meta.get("parse") and meta.get("shown") is not None:  # argparse runs `type` on a text default too
            kwargs.update(type=meta["parse"], default=meta["shown"], metavar=meta.get("metavar"))
        elif kind is bool and meta.get("invert"):
            kwargs.update(action="store_true", default=not default)
        elif kind is bool:
            kwargs.update(action=_Switch, default=default)
        elif meta.get("nargs"):
            kwargs.update(nargs=meta["nargs"], default=default, metavar=meta.get("metavar"))
        elif kind is tuple and meta.get("repeat"):
            kwargs.update(action="append", default=[], metavar=dest.upper().split("_")[-1])
        elif kind is tuple:
            kwargs.update(type=_comma_list, default=_shown(default), metavar="A,B,...")
        else:
            kwargs.update(type=meta.get("parse") or kind, default=default)
            if meta.get("choices"):
                kwargs["choices"] = meta["choices"]
            if meta.get("metavar"):
                kwargs["metavar"] = meta["metavar"]
        action = target.add_argument(dashed, *hidden, **kwargs)
        # BooleanOptionalAction made a --no-x of each name: the hidden ones' stay hidden too.
        action.hidden_aliases = tuple(s for s in action.option_strings
                                      if s in hidden or "_" in s or s.removeprefix("--no-") in (h[2:] for h in hidden))
        made.append(Flag(dest, here, f))
    return made


def split_beam_args(argv: list[str]) -> tuple[list[str], list[str]]:
    """(the words before `--`, the words after it): what follows `--` is Beam's, whatever it looks like."""
    if "--" not in argv:
        return list(argv), []
    at = argv.index("--")
    return list(argv[:at]), list(argv[at + 1:])


def value(flag: Flag, args):
    """The field's value from parsed arguments."""
    raw = getattr(args, flag.dest)
    meta = flag.meta
    if meta.get("invert"):
        return not raw
    if meta.get("repeat") == "append":  # each word one item (paths may hold commas)
        return tuple(raw or ())
    if meta.get("repeat"):
        return tuple(item for entry in raw or () for item in _comma_list(entry))
    if meta.get("nargs"):
        return tuple(raw)
    return raw  # a text default went through the flag's type too (argparse converts string defaults)


def build(cls, args, flags: list[Flag], path: tuple = (), **fixed):
    """An instance of `cls` (at `path` in the flags) from parsed arguments: flagged fields from `args`, `fixed`
    ones as given (by field name, at this level), the rest at their defaults; nested dataclasses built the same
    way."""
    by_path = {f.path: f for f in flags}
    values = {}
    for f in dataclasses.fields(cls):
        here = path + (f.name,)
        if f.name in fixed:  # the caller's own values, for this level only
            values[f.name] = fixed[f.name]
        elif _nested(f):
            values[f.name] = build(_nested(f), args, flags, here)
        elif here in by_path:
            values[f.name] = value(by_path[here], args)
    return cls(**values)
