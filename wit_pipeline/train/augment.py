"""Image decoding and CLIP's transforms with Pillow and torch alone (no torchvision).

Workers hand over uint8 tensors (4x less to pickle between processes than float); `normalize` turns a batch
into CLIP-normalised floats on the training device in one vectorised step.
"""
from __future__ import annotations

import io
import math
import random

import numpy as np
import torch
from PIL import Image

MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)
Image.MAX_IMAGE_PIXELS = 89_478_485  # Pillow's default bomb guard, stated: a bomb is a bad sample, not a crash


def decode(data: bytes, size: int) -> Image.Image:
    """RGB image; JPEGs are decoded at the smallest DCT scale still >= size (much cheaper for big photos)."""
    img = Image.open(io.BytesIO(data))
    if img.format == "JPEG":
        img.draft("RGB", (size, size))
    if img.mode in ("RGBA", "LA", "P", "PA"):
        img = img.convert("RGBA")
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img)  # transparency on white, not on black
    return img.convert("RGB")


def random_resized_crop(img: Image.Image, size: int, rng: random.Random, scale=(0.9, 1.0),
                        ratio=(3 / 4, 4 / 3)) -> Image.Image:
    """A random area share in `scale` and aspect ratio in `ratio` (log-uniform), resized to size x size; falls
    back to the centre crop after 10 tries, as torchvision's RandomResizedCrop does."""
    width, height = img.size
    area = width * height
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(*log_ratio))
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            left, top = rng.randint(0, width - w), rng.randint(0, height - h)
            return img.resize((size, size), Image.BICUBIC, box=(left, top, left + w, top + h))
    return resize_center_crop(img, size)


def resize_center_crop(img: Image.Image, size: int) -> Image.Image:
    """Shorter side to `size`, then the central size x size square: CLIP's evaluation transform."""
    width, height = img.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return img.resize((size, size), Image.BICUBIC, box=(left, top, left + side, top + side))


def to_uint8(img: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).permute(2, 0, 1)


def normalize(batch: torch.Tensor, device=None, dtype=torch.float32) -> torch.Tensor:
    """(N, 3, H, W) uint8 -> CLIP-normalised floats on `device`."""
    mean = torch.tensor(MEAN, device=device, dtype=dtype).view(1, 3, 1, 1) * 255
    std = torch.tensor(STD, device=device, dtype=dtype).view(1, 3, 1, 1) * 255
    return (batch.to(device, non_blocking=True).to(dtype) - mean) / std


def eval_image(data_or_path, size: int) -> torch.Tensor:
    """One evaluation image (bytes or a path) as uint8 (3, size, size)."""
    if isinstance(data_or_path, (bytes, bytearray)):
        img = decode(bytes(data_or_path), size)
    else:
        with open(data_or_path, "rb") as f:
            img = decode(f.read(), size)
    return to_uint8(resize_center_crop(img, size))
