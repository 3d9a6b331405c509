"""CLIP's loss: symmetric cross-entropy over the N x N image-text similarities, scaled by the learned
temperature. Across ranks, features are gathered so every rank sees the global batch's negatives.

- gather_with_grad (default): all_gather that carries gradients back to the rank that made each feature
  (torch.distributed.nn), so the summed gradient equals one process's on the global batch.
- otherwise the gathered copies are constants and the rank's own slice is put back with its gradient (the
  features' gradients are then 1/world_size of the exact ones after DDP's averaging, as in open_clip; library
  use only, `wit train` always gathers with gradients).
- local_loss: each rank scores only its own rows against all columns (N_local x N_global logits instead of
  N_global x N_global): the same gradients after DDP's averaging, less compute and memory per rank.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn


def gather_features(image: torch.Tensor, text: torch.Tensor, with_grad: bool, rank: int, world_size: int):
    if with_grad:
        from torch.distributed.nn.functional import all_gather
        return torch.cat(all_gather(image), dim=0), torch.cat(all_gather(text), dim=0)
    images = [torch.empty_like(image) for _ in range(world_size)]
    texts = [torch.empty_like(text) for _ in range(world_size)]
    dist.all_gather(images, image)
    dist.all_gather(texts, text)
    images[rank], texts[rank] = image, text  # this rank's slice keeps its graph
    return torch.cat(images, dim=0), torch.cat(texts, dim=0)


class ClipLoss(nn.Module):
    def __init__(self, local_loss: bool = False, gather_with_grad: bool = True, rank: int = 0, world_size: int = 1):
        super().__init__()
        if local_loss and not gather_with_grad and world_size > 1:
            # Each rank's rows depend on the other ranks' features: as constants, their gradient terms are lost.
            raise ValueError("local_loss needs gather_with_grad (constant gathers give wrong gradients)")
        self.local_loss, self.gather_with_grad = local_loss, gather_with_grad
        self.rank, self.world_size = rank, world_size
        self._labels: dict = {}

    def labels(self, n: int, device) -> torch.Tensor:
        key = (n, str(device))
        if key not in self._labels:
            offset = n * self.rank if self.world_size > 1 and self.local_loss else 0
            self._labels = {key: torch.arange(n, device=device) + offset}
        return self._labels[key]

    def logits(self, image: torch.Tensor, text: torch.Tensor, logit_scale: torch.Tensor):
        # Float32 similarities even under bf16/fp16 autocast: logits reach 100, where bf16's step is 0.5.
        image, text, logit_scale = image.float(), text.float(), logit_scale.float()
        with torch.autocast(image.device.type, enabled=False):
            return self._logits(image, text, logit_scale)

    def _logits(self, image: torch.Tensor, text: torch.Tensor, logit_scale: torch.Tensor):
        if self.world_size == 1:
            per_image = logit_scale * image @ text.T
            return per_image, per_image.T
        all_image, all_text = gather_features(image, text, self.gather_with_grad, self.rank, self.world_size)
        if self.local_loss:
            return logit_scale * image @ all_text.T, logit_scale * text @ all_image.T
        per_image = logit_scale * all_image @ all_text.T
        return per_image, per_image.T

    def forward(self, image: torch.Tensor, text: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
        per_image, per_text = self.logits(image, text, logit_scale)
        labels = self.labels(per_image.shape[0], image.device)
        return (F.cross_entropy(per_image, labels) + F.cross_entropy(per_text, labels)) / 2
