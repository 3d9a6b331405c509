"""Checkpoints: everything a resumed run needs to continue as if never stopped (model, optimiser, scheduler,
scaler, RNG states, step, data cursors, tokenizer, configs), written atomically: a temporary file in the same
folder, fsynced, then renamed, so a kill mid-write leaves the previous checkpoint intact and no torn file."""
from __future__ import annotations

import glob
import os
import random
import re

import numpy as np
import torch

PATTERN = re.compile(r"step_(\d+)\.pt$")


def path_for(folder: str, step: int) -> str:
    return os.path.join(folder, f"step_{step:08d}.pt")


def list_checkpoints(folder: str) -> list[tuple[int, str]]:
    found = []
    for path in glob.glob(os.path.join(folder, "step_*.pt")):
        m = PATTERN.search(path)
        if m:
            found.append((int(m.group(1)), path))
    return sorted(found)


def find(resume: str, folder: str) -> str:
    """`latest` (the highest step in the run's checkpoints folder) or an explicit file."""
    if resume != "latest":
        if not os.path.isfile(resume):
            raise ValueError(f"no checkpoint file {resume}")
        return resume
    found = list_checkpoints(folder)
    if not found:
        raise ValueError(f"--resume latest: no checkpoint in {folder}")
    return found[-1][1]


def rng_state(device: torch.device | None = None) -> dict:
    """This process's generators; on CUDA only its own device's (a resume may see another number of GPUs)."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if device is not None and device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict, device: torch.device | None = None) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and device is not None and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)


def save(state: dict, folder: str, step: int, keep: int) -> str:
    os.makedirs(folder, exist_ok=True)
    final = path_for(folder, step)
    tmp = f"{final}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, final)
    if keep > 0:  # the oldest go once `keep` newer ones exist
        for _, old in list_checkpoints(folder)[:-keep]:
            os.remove(old)
    return final


def load(path: str) -> dict:
    # weights_only=False: the file holds numpy RNG state and configs; only load checkpoints you made.
    return torch.load(path, map_location="cpu", weights_only=False)
