"""Named model sizes, from `tiny` (for CPU tests) to CLIP's RN50 and ViT-B/32."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


@dataclass(frozen=True)
class VisionConfig:
    kind: str = "vit"  # "vit" (class token, pre-norm) or "resnet" (CLIP's modified ResNet, attention pooling)
    image_size: int = 224
    width: int = 768  # ViT width; for the ResNet, the stem width (64 in RN50)
    layers: int | tuple = 12  # ViT blocks; for the ResNet, bottlenecks per stage, e.g. (3, 4, 6, 3)
    heads: int = 12  # ViT heads; for the ResNet, heads of the attention pool
    patch_size: int = 32
    mlp_ratio: float = 4.0

    def __post_init__(self):
        if self.kind not in ("vit", "resnet"):
            raise ValueError(f"vision kind must be 'vit' or 'resnet', not {self.kind!r}")
        if self.kind == "vit" and self.image_size % self.patch_size:
            raise ValueError(f"image_size {self.image_size} is not a multiple of patch_size {self.patch_size}")
        if self.kind == "resnet" and (not isinstance(self.layers, tuple) or self.image_size % 32):
            raise ValueError("a ResNet needs layers as a tuple of 4 stage depths and an image_size divisible by 32")


@dataclass(frozen=True)
class TextConfig:
    context_length: int = 77
    vocab_size: int = 49408
    width: int = 512
    heads: int = 8
    layers: int = 12
    mlp_ratio: float = 4.0


@dataclass(frozen=True)
class ModelConfig:
    embed_dim: int = 512
    vision: VisionConfig = field(default_factory=VisionConfig)
    text: TextConfig = field(default_factory=TextConfig)
    quick_gelu: bool = False  # OpenAI's checkpoints used QuickGELU; new training uses nn.GELU

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        vision = dict(d.get("vision", {}))
        if isinstance(vision.get("layers"), list):
            vision["layers"] = tuple(vision["layers"])
        return cls(embed_dim=d.get("embed_dim", 512), vision=VisionConfig(**vision), text=TextConfig(**d.get("text", {})),
                   quick_gelu=d.get("quick_gelu", False))

    def replace(self, *, context_length: int | None = None, vocab_size: int | None = None,
                image_size: int | None = None) -> "ModelConfig":
        text, vision = self.text, self.vision
        if context_length:
            text = dataclasses.replace(text, context_length=context_length)
        if vocab_size:
            text = dataclasses.replace(text, vocab_size=vocab_size)
        if image_size:
            vision = dataclasses.replace(vision, image_size=image_size)
        return dataclasses.replace(self, text=text, vision=vision)


MODELS = {
    # The same sizes as the open_clip config benchmarks/_openclip.py registers, so the two compare 1:1.
    "tiny": ModelConfig(embed_dim=128, vision=VisionConfig("vit", 64, 128, 3, 4, 8),
                        text=TextConfig(32, 8192, 128, 4, 3)),
    "tiny-rn": ModelConfig(embed_dim=128, vision=VisionConfig("resnet", 64, 32, (1, 1, 1, 1), 4),
                           text=TextConfig(32, 8192, 128, 4, 3)),
    "small": ModelConfig(embed_dim=256, vision=VisionConfig("vit", 128, 256, 6, 4, 16),
                         text=TextConfig(48, 16384, 256, 4, 6)),
    "RN50": ModelConfig(embed_dim=1024, vision=VisionConfig("resnet", 224, 64, (3, 4, 6, 3), 32),
                        text=TextConfig(77, 49408, 512, 8, 12)),
    "ViT-B-32": ModelConfig(embed_dim=512, vision=VisionConfig("vit", 224, 768, 12, 12, 32),
                            text=TextConfig(77, 49408, 512, 8, 12)),
    "ViT-B-16": ModelConfig(embed_dim=512, vision=VisionConfig("vit", 224, 768, 12, 12, 16),
                            text=TextConfig(77, 49408, 512, 8, 12)),
}


def model_config(name: str) -> ModelConfig:
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}") from None
