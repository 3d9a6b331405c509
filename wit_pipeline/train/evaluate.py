"""Measuring a checkpoint: zero-shot classification, image-text retrieval and a linear probe.

- Zero-shot: an image folder with one sub-folder per class; each class's text embedding is the normalised
  mean of its normalised template embeddings (CLIP's prompt ensembling); top-1 and top-5.
- Retrieval: images with one or more captions each; image->text R@K counts an image as found when any of
  its captions ranks in the top K, text->image when the caption's image does.
- Linear probe: multinomial logistic regression (L-BFGS, L2 strength picked on a held-out part of the
  training features) on frozen, normalised image features.
"""
from __future__ import annotations

import csv
import json
import logging
import os
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from wit_pipeline.train import augment, checkpoint
from wit_pipeline.train.config import ModelConfig
from wit_pipeline.train.model import CLIP
from wit_pipeline.train.tokenizer import Tokenizer

TEMPLATES = ("a photo of a {}.", "a picture of a {}.", "an image of a {}.", "a photo of the {}.",
             "a close-up photo of a {}.", "a bright photo of a {}.", "a photo of a small {}.", "a photo of a big {}.")
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp")
log = logging.getLogger(__name__)


@dataclass
class Loaded:
    model: CLIP
    tokenizer: Tokenizer
    config: ModelConfig
    device: torch.device
    step: int


def load(path: str, device: str | None = None) -> Loaded:
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    state = checkpoint.load(path)
    cfg = ModelConfig.from_dict(state["model_config"])
    model = CLIP(cfg)
    model.load_state_dict(state["model"])
    model.to(dev).eval()
    return Loaded(model, Tokenizer.from_json(state["tokenizer"], cfg.text.context_length), cfg, dev, state["step"])


def load_images(sources: list, size: int) -> tuple[list[torch.Tensor], list[int]]:
    """Evaluation-transformed uint8 images of paths or bytes, and the indices of those that decoded: an
    unreadable file is left out and counted, not a crash halfway through an evaluation."""
    images, ok = [], []
    for i, source in enumerate(sources):
        try:
            images.append(augment.eval_image(source, size))
            ok.append(i)
        except Exception as e:  # noqa: BLE001 - any decoder error is one bad image
            log.warning("skipping an unreadable image (%s): %s", source if isinstance(source, str) else f"#{i}", e)
    return images, ok


@torch.no_grad()
def encode_images(m: Loaded, images: list[torch.Tensor], batch_size: int = 128) -> torch.Tensor:
    """Normalised features of uint8 images from load_images."""
    out = []
    for i in range(0, len(images), batch_size):
        batch = torch.stack(images[i:i + batch_size])
        out.append(m.model.encode_image(augment.normalize(batch, m.device)).float().cpu())
    return torch.cat(out) if out else torch.empty(0, m.config.embed_dim)


def _labelled(m: Loaded, paths: list[str], labels: list[int]) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Features and labels of the images that decoded, and how many did not."""
    images, ok = load_images(paths, m.config.vision.image_size)
    if not ok:
        raise ValueError("none of the images could be read")
    return encode_images(m, images), torch.tensor([labels[i] for i in ok]), len(paths) - len(ok)


@torch.no_grad()
def encode_texts(m: Loaded, texts: list[str], batch_size: int = 512) -> torch.Tensor:
    out = []
    for i in range(0, len(texts), batch_size):
        tokens = torch.from_numpy(m.tokenizer.encode(texts[i:i + batch_size])).to(m.device)
        out.append(m.model.encode_text(tokens).float().cpu())
    return torch.cat(out) if out else torch.empty(0, m.config.embed_dim)


def image_folder(folder: str) -> tuple[list[str], list[int], list[str]]:
    """(paths, labels, class folder names) of a folder with one sub-folder of images per class."""
    if not os.path.isdir(folder):
        raise ValueError(f"no image folder {folder}")
    classes = sorted(d for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d)))
    if not classes:
        raise ValueError(f"{folder} has no class sub-folders (expected {folder}/<class name>/<images>)")
    paths, labels = [], []
    for label, name in enumerate(classes):
        for f in sorted(os.listdir(os.path.join(folder, name))):
            if f.lower().endswith(IMAGE_EXTS):
                paths.append(os.path.join(folder, name, f))
                labels.append(label)
    if not paths:
        raise ValueError(f"no images ({', '.join(IMAGE_EXTS)}) under {folder}")
    return paths, labels, classes


def class_embeddings(m: Loaded, classnames: list[str], templates=TEMPLATES) -> torch.Tensor:
    """(classes, dim): per class, the normalised mean of its normalised template embeddings."""
    if not templates or any("{}" not in t for t in templates):
        raise ValueError("every template needs a {} where the class name goes")
    texts = [t.format(c) for c in classnames for t in templates]
    features = encode_texts(m, texts).view(len(classnames), len(templates), -1)
    return F.normalize(features.mean(dim=1), dim=-1)


def accuracy(logits: torch.Tensor, labels: torch.Tensor, k: int) -> float:
    k = min(k, logits.shape[1])
    return (logits.topk(k, dim=1).indices == labels[:, None]).any(dim=1).float().mean().item()


def zero_shot(m: Loaded, folder: str, classnames: list[str] | None = None, templates=TEMPLATES) -> dict:
    paths, labels, classes = image_folder(folder)
    names = classnames or [c.replace("_", " ") for c in classes]
    if len(names) != len(classes):
        raise ValueError(f"{len(names)} class names for {len(classes)} class folders")
    features, y, unreadable = _labelled(m, paths, labels)
    logits = features @ class_embeddings(m, names, templates).T
    return {"task": "zero-shot", "images": len(y), "unreadable_images": unreadable, "classes": len(classes),
            "top1": accuracy(logits, y, 1), "top5": accuracy(logits, y, 5), "chance_top1": 1 / len(classes),
            "chance_top5": min(1.0, 5 / len(classes)), "templates": len(templates)}


def retrieval(m: Loaded, images: list, captions: list[list[str]], ks=(1, 5, 10)) -> dict:
    """images[i] (a path or bytes) has the captions captions[i]."""
    if not images or len(images) != len(captions) or any(not c for c in captions):
        raise ValueError("retrieval needs at least one image and one caption per image")
    decoded, ok = load_images(images, m.config.vision.image_size)
    if not ok:
        raise ValueError("none of the images could be read")
    unreadable = len(images) - len(ok)
    captions = [captions[i] for i in ok]  # an unreadable image takes its captions out with it
    img = encode_images(m, decoded)
    texts = [t for caps in captions for t in caps]
    owner = torch.tensor([i for i, caps in enumerate(captions) for _ in caps])
    sims = img @ encode_texts(m, texts).T  # (images, texts)
    result = {"task": "retrieval", "images": len(captions), "texts": len(texts), "unreadable_images": unreadable}
    per_image = [len(caps) for caps in captions]
    for k in ks:
        top_texts = sims.topk(min(k, len(texts)), dim=1).indices  # image -> text
        result[f"image_to_text_R@{k}"] = (owner[top_texts] == torch.arange(len(images))[:, None]).any(1).float().mean().item()
        top_images = sims.T.topk(min(k, len(images)), dim=1).indices  # text -> image
        result[f"text_to_image_R@{k}"] = (top_images == owner[:, None]).any(1).float().mean().item()
        # What a random ranking scores: the chance that one of an image's c captions lands among k of T texts,
        # 1 - C(T - c, k) / C(T, k), averaged over images; for text->image, k of N images.
        result[f"chance_image_to_text_R@{k}"] = sum(_chance_any(len(texts), c, k) for c in per_image) / len(per_image)
        result[f"chance_text_to_image_R@{k}"] = min(1.0, k / len(captions))
    return result


def _chance_any(total: int, good: int, k: int) -> float:
    """P(at least one of `good` items among `k` drawn without replacement from `total`)."""
    miss = 1.0
    for j in range(min(k, total)):
        if total - j <= 0:
            return 1.0
        miss *= max(0, total - good - j) / (total - j)
    return 1.0 - miss


def captions_file(path: str, images_dir: str, split_json: str | None = None, split: str = "test"):
    """Images and their captions from a CSV `image,caption` (Flickr/Kaggle layout), optionally restricted to
    the names in split_json[split]."""
    grouped: dict[str, list[str]] = {}
    with open(path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            if "image" not in row or "caption" not in row:
                raise ValueError(f"{path} needs the columns image,caption")
            grouped.setdefault(row["image"], []).append(row["caption"].strip())
    names = sorted(grouped)
    if split_json:
        with open(split_json, encoding="utf-8") as f:
            wanted = json.load(f)[split]
        missing = [n for n in wanted if n not in grouped]
        if missing:
            raise ValueError(f"{len(missing)} images of split {split!r} have no caption in {path}, e.g. {missing[0]}")
        names = list(wanted)
    return [os.path.join(images_dir, n) for n in names], [grouped[n] for n in names]


def shard_pairs(pattern: str, limit: int | None = None):
    """Images and captions of held-out shards, one caption per sample, in shard order."""
    from webdataset.tariterators import tarfile_samples

    from wit_pipeline.train.data import CAPTION_KEY, IMAGE_KEYS, resolve_shards

    urls, _ = resolve_shards(pattern)
    images, captions = [], []
    for sample in tarfile_samples(({"url": u} for u in urls), handler=lambda e: True):
        key = next((k for k in IMAGE_KEYS if k in sample), None)
        text = sample.get(CAPTION_KEY, b"").decode("utf-8", "replace").strip()
        if key and text:
            images.append(sample[key])
            captions.append([text])
            if limit and len(images) >= limit:
                break
    return images, captions


def _fit_logistic(x: torch.Tensor, y: torch.Tensor, classes: int, l2: float, steps: int = 100) -> torch.Tensor:
    w = torch.zeros(x.shape[1] + 1, classes, requires_grad=True)
    xb = torch.cat([x, torch.ones(len(x), 1)], dim=1)
    opt = torch.optim.LBFGS([w], lr=1, max_iter=steps, history_size=10, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(xb @ w, y) + l2 * (w[:-1] ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach()


def _predict(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return torch.cat([x, torch.ones(len(x), 1)], dim=1) @ w


def linear_probe(m: Loaded, train_folder: str, test_folder: str | None = None, test_fraction: float = 0.3,
                 seed: int = 0) -> dict:
    """Logistic regression on frozen features; without a test folder, a seeded `test_fraction` of the
    training folder is held out."""
    paths, labels, classes = image_folder(train_folder)
    x, y, unreadable = _labelled(m, paths, labels)
    gen = torch.Generator().manual_seed(seed)
    if test_folder:
        tpaths, tlabels, tclasses = image_folder(test_folder)
        if tclasses != classes:
            raise ValueError("the test folder's classes differ from the training folder's")
        x_test, y_test, more = _labelled(m, tpaths, tlabels)
        unreadable += more
    else:
        order = torch.randperm(len(x), generator=gen)
        cut = int(len(x) * test_fraction)
        if cut < 1 or cut >= len(x):
            raise ValueError(f"{len(x)} images are too few to hold out {test_fraction:.0%} for testing")
        x_test, y_test, x, y = x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]]
    # The L2 strength: the best of a sweep on a validation part of the training features, then a refit on all.
    order = torch.randperm(len(x), generator=gen)
    val = max(1, len(x) // 5)
    best = None
    for l2 in (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1):
        w = _fit_logistic(x[order[val:]], y[order[val:]], len(classes), l2)
        score = accuracy(_predict(w, x[order[:val]]), y[order[:val]], 1)
        if best is None or score > best[0]:
            best = (score, l2)
    w = _fit_logistic(x, y, len(classes), best[1])
    return {"task": "linear-probe", "train_images": len(x), "test_images": len(x_test), "classes": len(classes),
            "unreadable_images": unreadable,
            "top1": accuracy(_predict(w, x_test), y_test, 1), "l2": best[1], "validation_top1": best[0],
            "chance_top1": 1 / len(classes)}
