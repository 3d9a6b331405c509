"""img2dataset's command line, accepted by `wit download`: a user switches by changing the program name.

img2dataset (1.47) takes python-fire flags: `--name=value` or `--name value`, booleans as `--flag=True`, lists
as `'["a","b"]'`. `translate(argv)` rewrites them into wit download's flags before parsing, applies
img2dataset's own defaults where they differ from wit's (resize_mode border, a txt URL list, no caption, no
carried columns, no retries) when the command line is img2dataset's (it names --url_list), and refuses, one
line each, the settings wit cannot honour, saying why. Every other flag passes through untouched.
"""
from __future__ import annotations

import ast

# img2dataset flag -> wit download flag (same meaning, maybe another name).
RENAMED = {
    "url_list": None,  # the positional manifest
    "output_folder": "--output",
    "processes_count": "--processes",
    "thread_count": "--concurrency",
    "number_sample_per_shard": "--shard-size",
    "save_additional_columns": "--carry-columns",
    "input_format": "--manifest-format",
    "disallowed_header_directives": "--opt-out-directives",
    "max_image_area": "--max-pixels",
}
SAME = ("url_col", "caption_col", "image_size", "resize_mode", "encode_format", "encode_quality", "retries",
        "min_image_size", "max_aspect_ratio")
BOOLEANS = {"resize_only_if_bigger": "resize-only-if-bigger"}
# Accepted at the value wit always has, refused at any other with the reason.
FIXED = {
    "output_format": ("webdataset", "wit writes WebDataset shards (tar + Parquet) only"),
    "compute_hash": ("sha256", "wit stores the sha256 of every stored image"),
    "distributor": ("multiprocessing", "wit download uses local processes; for a cluster use `wit build` on Beam"),
    "oom_shard_count": ("5", "shard names have 5 digits, as img2dataset's default"),
    "disable_all_reencoding": ("False", "wit always decodes and re-encodes: bounded, deterministic output"),
    "bbox_col": ("None", "bounding boxes (blurring) are not supported"),
    "verify_hash": ("None", "hash verification against a column is not supported"),
    "incremental_mode": ("incremental", "wit resumes an output made the same way; use --overwrite to replace it"),
}
IGNORED = {  # no effect on what wit makes, or only an optimisation: accepted, with a note
    "enable_wandb": "no Weights & Biases logging: the summary is printed (and --summary-json)",
    "skip_reencode": "wit always re-encodes (bounded, deterministic output)",
    "wandb_project": "no W&B logging",
    "subjob_size": "wit streams the manifest in shards",
    "max_shard_retry": "a failed shard is redone by a re-run",
    "extract_exif": "EXIF is applied (orientation), not stored",
}
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


class Img2DatasetError(ValueError):
    """An img2dataset setting wit download cannot honour: the message says which and why."""


def _split(argv: list[str]) -> list[tuple[str, str | None]]:
    """(flag name, value or None) pairs; a flag's value is its `=` part or the next word that is no flag."""
    out, i = [], 0
    while i < len(argv):
        word = argv[i]
        if word.startswith("--") and "=" in word:
            name, value = word[2:].split("=", 1)
            out.append((name, value))
        elif word.startswith("--") and i + 1 < len(argv) and not argv[i + 1].startswith("--"):
            out.append((word[2:], argv[i + 1]))
            i += 1
        elif word.startswith("--"):
            out.append((word[2:], None))
        else:
            out.append(("", word))  # a positional word
        i += 1
    return out


def _list(value: str) -> str:
    """img2dataset's list syntax (`'["a","b"]'` or `a,b`) as a comma-separated list."""
    value = value.strip()
    if value.startswith("["):
        try:
            items = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            raise Img2DatasetError(f"cannot read the list {value!r}") from None
        return ",".join(str(item) for item in items)
    return value


def _interpolation(pairs: dict) -> list[str]:
    """img2dataset's two filters as wit's one --resample: area+lanczos is wit's `area`; one filter both ways."""
    down = pairs.pop("downscale_interpolation", "area").lower()
    up = pairs.pop("upscale_interpolation", "lanczos").lower()
    if (down, up) == ("area", "lanczos"):
        return ["--resample", "area"]
    if down == up and down in ("bilinear", "bicubic", "lanczos"):
        return ["--resample", down]
    raise Img2DatasetError(f"downscale_interpolation={down} with upscale_interpolation={up} is not supported: wit "
                           "resamples with area+lanczos (its `area`) or one of bilinear, bicubic, lanczos both ways")


def translate(argv: list[str]) -> tuple[list[str], list[str]]:
    """(wit download's argv, notes for the user). Raises Img2DatasetError for a setting wit cannot honour."""
    pairs = _split(argv)
    names = {name for name, _ in pairs}
    img2dataset = "url_list" in names
    out, notes, interpolation = [], [], {}
    for name, value in pairs:
        if name == "":
            out.append(value)
        elif name == "max_image_area" and value is not None and float(value) == float("inf"):
            continue  # img2dataset's default: no limit; wit keeps its --max-pixels bomb guard
        elif name in RENAMED:
            if name in ("save_additional_columns", "disallowed_header_directives") and value is not None:
                value = _list(value)
            if name == "max_image_area" and value is not None:
                value = str(int(float(value)))
            out += [value] if RENAMED[name] is None else [RENAMED[name], value]
        elif name in SAME and value is not None and img2dataset:
            out += [f"--{name}", "0" if name == "max_aspect_ratio" and value == "inf" else value]
        elif name in BOOLEANS and value is not None and value.lower() in _TRUE + _FALSE:
            out.append(("--" if value.lower() in _TRUE else "--no-") + BOOLEANS[name])
        elif name in ("downscale_interpolation", "upscale_interpolation"):
            interpolation[name] = value or ""
        elif name == "timeout":  # img2dataset's is urllib's socket timeout: connect, and each read
            out += ["--connect-timeout", value, "--read-timeout", value]
        elif name == "user_agent_token":
            from transforms.download.options import USER_AGENT
            out += ["--user-agent", f"{USER_AGENT} {value}"]
        elif name in FIXED:
            allowed, why = FIXED[name]
            if str(value).lower() != allowed.lower():
                if name == "incremental_mode" and value == "overwrite":
                    out.append("--overwrite")
                    continue
                raise Img2DatasetError(f"--{name}={value} is not supported: {why}")
        elif name in IGNORED:
            notes.append(f"--{name} ignored: {IGNORED[name]}")
        elif value is None:
            out.append(f"--{name}")
        else:
            out += [f"--{name}", value]
    if interpolation:
        out += _interpolation(interpolation)
    if img2dataset:  # img2dataset's defaults, where they differ from wit's, unless given
        given = {name for name, _ in pairs}
        for name, flag, default in (("resize_mode", "--resize-mode", "border"), ("input_format", "--manifest-format",
                                    "txt"), ("caption_col", "--caption-col", ""), ("retries", "--retries", "0"),
                                    ("save_additional_columns", "--carry-columns", "")):
            if name not in given:
                out += [flag, default]
        if "output_format" not in given:
            notes.append("output_format: writing WebDataset shards (img2dataset's default is files; wit writes "
                         "webdataset only)")
    return out, notes
