"""CLIP: an image tower (CLIP's modified ResNet or a ViT), a causal text Transformer pooled at the end-of-text
token, linear projections into one joint space and a learned temperature (Radford et al. 2021, section 2.4)."""
from __future__ import annotations

import math
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from wit_pipeline.train.config import ModelConfig, TextConfig, VisionConfig

INIT_TEMPERATURE = 0.07
MAX_LOGIT_SCALE = 100.0
EOT_ID = 2  # the tokenizer's end-of-text id (0 pad, 1 start, 2 end)


class QuickGELU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class Attention(nn.Module):
    """Multi-head self-attention over fused QKV, through PyTorch's fused SDPA kernels (flash on CUDA)."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} is not divisible by {heads} heads")
        self.heads = heads
        self.in_proj = nn.Linear(width, 3 * width)
        self.out_proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, causal: bool) -> torch.Tensor:
        n, length, width = x.shape
        q, k, v = self.in_proj(x).view(n, length, 3, self.heads, width // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        return self.out_proj(out.transpose(1, 2).reshape(n, length, width))


class Block(nn.Module):
    """Pre-norm residual block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, width: int, heads: int, mlp_ratio: float, act: type[nn.Module]):
        super().__init__()
        hidden = int(width * mlp_ratio)
        self.ln_1 = nn.LayerNorm(width)
        self.attn = Attention(width, heads)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(OrderedDict(c_fc=nn.Linear(width, hidden), act=act(), c_proj=nn.Linear(hidden, width)))

    def forward(self, x: torch.Tensor, causal: bool = False) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), causal)
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width: int, layers: int, heads: int, mlp_ratio: float, act: type[nn.Module]):
        super().__init__()
        self.width, self.layers = width, layers
        self.blocks = nn.ModuleList(Block(width, heads, mlp_ratio, act) for _ in range(layers))
        self.grad_checkpointing = False
        self.init_weights()

    def init_weights(self) -> None:
        # CLIP's scheme: residual projections shrink with depth so the residual stream stays at unit scale.
        attn_std = self.width ** -0.5
        proj_std = attn_std * (2 * self.layers) ** -0.5
        fc_std = (2 * self.width) ** -0.5
        for block in self.blocks:
            nn.init.normal_(block.attn.in_proj.weight, std=attn_std)
            nn.init.normal_(block.attn.out_proj.weight, std=proj_std)
            nn.init.normal_(block.mlp.c_fc.weight, std=fc_std)
            nn.init.normal_(block.mlp.c_proj.weight, std=proj_std)
            for lin in (block.attn.in_proj, block.attn.out_proj, block.mlp.c_fc, block.mlp.c_proj):
                nn.init.zeros_(lin.bias)

    def forward(self, x: torch.Tensor, causal: bool = False) -> torch.Tensor:
        for block in self.blocks:
            if self.grad_checkpointing and torch.is_grad_enabled():
                # Activations are recomputed in the backward pass: memory for compute, for large batches.
                x = checkpoint(block, x, causal, use_reentrant=False)
            else:
                x = block(x, causal)
        return x


class VisionTransformer(nn.Module):
    """ViT as in CLIP: patch embedding without bias, a class token, ln_pre, pre-norm blocks, ln_post on the class
    token, a linear projection without bias."""

    def __init__(self, cfg: VisionConfig, embed_dim: int, act: type[nn.Module]):
        super().__init__()
        width = cfg.width
        scale = width ** -0.5
        self.conv1 = nn.Conv2d(3, width, kernel_size=cfg.patch_size, stride=cfg.patch_size, bias=False)
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        grid = cfg.image_size // cfg.patch_size
        self.positional_embedding = nn.Parameter(scale * torch.randn(grid * grid + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = Transformer(width, cfg.layers, cfg.heads, cfg.mlp_ratio, act)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, embed_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x).flatten(2).transpose(1, 2)  # (N, patches, width)
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)
        x = self.transformer(self.ln_pre(x))
        return self.ln_post(x[:, 0]) @ self.proj


class Bottleneck(nn.Module):
    """CLIP's anti-aliased bottleneck: strides are average pools after the 3x3 convolution, not strided convs."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.avgpool = nn.AvgPool2d(stride) if stride > 1 else nn.Identity()
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.downsample = None
        if stride > 1 or inplanes != planes * self.expansion:
            self.downsample = nn.Sequential(OrderedDict(
                pool=nn.AvgPool2d(stride) if stride > 1 else nn.Identity(),
                conv=nn.Conv2d(inplanes, planes * self.expansion, 1, bias=False),
                bn=nn.BatchNorm2d(planes * self.expansion)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(self.avgpool(out)))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


class AttentionPool2d(nn.Module):
    """Replaces global average pooling: one attention query (the mean feature) over the spatial grid."""

    def __init__(self, spatial: int, width: int, heads: int, out_dim: int):
        super().__init__()
        self.positional_embedding = nn.Parameter(torch.randn(spatial * spatial + 1, width) / width ** 0.5)
        self.heads = heads
        self.q_proj, self.k_proj, self.v_proj = (nn.Linear(width, width) for _ in range(3))
        self.c_proj = nn.Linear(width, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(2).transpose(1, 2)  # (N, HW, C)
        x = torch.cat([x.mean(dim=1, keepdim=True), x], dim=1) + self.positional_embedding.to(x.dtype)
        n, length, width = x.shape
        split = lambda t: t.view(n, -1, self.heads, width // self.heads).transpose(1, 2)  # noqa: E731
        out = F.scaled_dot_product_attention(split(self.q_proj(x[:, :1])), split(self.k_proj(x)), split(self.v_proj(x)))
        return self.c_proj(out.transpose(1, 2).reshape(n, width))


class ModifiedResNet(nn.Module):
    """CLIP's ResNet: a 3-convolution stem with an average pool, anti-aliased strides, attention pooling."""

    def __init__(self, cfg: VisionConfig, embed_dim: int):
        super().__init__()
        width = cfg.width
        self.stem = nn.Sequential(
            nn.Conv2d(3, width // 2, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(width // 2), nn.ReLU(),
            nn.Conv2d(width // 2, width // 2, 3, padding=1, bias=False), nn.BatchNorm2d(width // 2), nn.ReLU(),
            nn.Conv2d(width // 2, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.AvgPool2d(2))
        self._inplanes = width
        self.layer1 = self._stage(width, cfg.layers[0])
        self.layer2 = self._stage(width * 2, cfg.layers[1], stride=2)
        self.layer3 = self._stage(width * 4, cfg.layers[2], stride=2)
        self.layer4 = self._stage(width * 8, cfg.layers[3], stride=2)
        self.attnpool = AttentionPool2d(cfg.image_size // 32, width * 32, cfg.heads, embed_dim)
        self.grad_checkpointing = False
        # Zero-init the last BN of each block: every residual branch starts as identity.
        for stage in (self.layer1, self.layer2, self.layer3, self.layer4):
            for block in stage:
                nn.init.zeros_(block.bn3.weight)

    def _stage(self, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        layers = [Bottleneck(self._inplanes, planes, stride)]
        self._inplanes = planes * Bottleneck.expansion
        layers += [Bottleneck(self._inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for stage in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = checkpoint(stage, x, use_reentrant=False) if self.grad_checkpointing and torch.is_grad_enabled() \
                else stage(x)
        return self.attnpool(x)


class TextTransformer(nn.Module):
    """Causal Transformer over BPE tokens; the feature is the end-of-text token's, projected without bias."""

    def __init__(self, cfg: TextConfig, embed_dim: int, act: type[nn.Module]):
        super().__init__()
        self.context_length = cfg.context_length
        self.token_embedding = nn.Embedding(cfg.vocab_size, cfg.width)
        self.positional_embedding = nn.Parameter(torch.empty(cfg.context_length, cfg.width))
        self.transformer = Transformer(cfg.width, cfg.layers, cfg.heads, cfg.mlp_ratio, act)
        self.ln_final = nn.LayerNorm(cfg.width)
        self.text_projection = nn.Parameter(torch.empty(cfg.width, embed_dim))
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        nn.init.normal_(self.text_projection, std=cfg.width ** -0.5)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.token_embedding(tokens) + self.positional_embedding[: tokens.shape[1]]
        x = self.ln_final(self.transformer(x, causal=True))
        # Pool at the first end-of-text token (id 2, tokenizer.py); a row without one pools at its last non-pad.
        is_eot = tokens == EOT_ID
        last = (tokens != 0).sum(dim=1).clamp(min=1) - 1
        eot = torch.where(is_eot.any(dim=1), is_eot.int().argmax(dim=1), last)
        return x[torch.arange(x.shape[0], device=x.device), eot] @ self.text_projection


class CLIP(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.config = cfg
        act = QuickGELU if cfg.quick_gelu else nn.GELU
        if cfg.vision.kind == "vit":
            self.visual = VisionTransformer(cfg.vision, cfg.embed_dim, act)
        else:
            self.visual = ModifiedResNet(cfg.vision, cfg.embed_dim)
        self.text = TextTransformer(cfg.text, cfg.embed_dim, act)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / INIT_TEMPERATURE)))

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.text.transformer.grad_checkpointing = enable
        vis = self.visual.transformer if isinstance(self.visual, VisionTransformer) else self.visual
        vis.grad_checkpointing = enable

    def encode_image(self, images: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        features = self.visual(images)
        return F.normalize(features, dim=-1) if normalize else features

    def encode_text(self, tokens: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        features = self.text(tokens)
        return F.normalize(features, dim=-1) if normalize else features

    def forward(self, images: torch.Tensor, tokens: torch.Tensor):
        return self.encode_image(images), self.encode_text(tokens), self.logit_scale.exp()

    @torch.no_grad()
    def clamp_logit_scale(self) -> None:
        # The temperature may not fall below 1/100 (CLIP clips the logit scale at 100 for stability).
        self.logit_scale.clamp_(0, math.log(MAX_LOGIT_SCALE))


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
