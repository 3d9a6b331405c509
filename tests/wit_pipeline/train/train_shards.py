"""Small WebDataset shards for the trainer's tests: pictures of the demo's 20 objects (their icons) with
captions that name them, so a model can learn something in a few steps."""
from __future__ import annotations

import io
import json
import os
import tarfile

from wit_pipeline.testbed.images import make_image
from wit_pipeline.testbed.miniweb import OBJECTS


def object_sample(i: int, size: int = 64) -> dict:
    subject = i % len(OBJECTS)
    return {"jpg": make_image(50_000 + i, size, size, "jpg", subject),
            "txt": f"a photo of a {OBJECTS[subject]}".encode(), "json": json.dumps({"subject": subject}).encode()}


def write_shards(folder, shards: int, per_shard: int, sample=object_sample, sizes: bool = True) -> list[str]:
    """shards x per_shard samples from sample(i) (a dict ext -> bytes, or None to leave a gap)."""
    os.makedirs(folder, exist_ok=True)
    names, counts = [], {}
    for s in range(shards):
        name = f"{s:05d}.tar"
        count = 0
        with tarfile.open(os.path.join(folder, name), "w") as tar:
            for j in range(per_shard):
                entry = sample(s * per_shard + j)
                if entry is None:
                    continue
                count += 1
                for ext, data in entry.items():
                    info = tarfile.TarInfo(f"{s:05d}{j:04d}.{ext}")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
        names.append(os.path.join(str(folder), name))
        counts[name] = count
    if sizes:
        with open(os.path.join(folder, "sizes.json"), "w") as f:
            json.dump(counts, f)
    return names


def object_folder(folder, per_class: int, size: int = 64, seed: int = 70_000) -> str:
    """Held-out pictures, one sub-folder per object (zero-shot and linear-probe layout)."""
    for subject, name in enumerate(OBJECTS):
        os.makedirs(os.path.join(folder, name), exist_ok=True)
        for k in range(per_class):
            with open(os.path.join(folder, name, f"{k}.jpg"), "wb") as f:
                f.write(make_image(seed + subject * 100 + k, size, size, "jpg", subject))
    return str(folder)
