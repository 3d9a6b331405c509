import math

import pytest
import torch

from wit_pipeline.train.config import MODELS, ModelConfig, model_config
from wit_pipeline.train.loss import ClipLoss
from wit_pipeline.train.model import CLIP, parameter_count


def small(kind="tiny"):
    torch.manual_seed(0)
    return CLIP(model_config(kind).replace(vocab_size=300))


def tokens(n=4, length=32, end=10):
    t = torch.randint(3, 300, (n, length))
    t[:, 0] = 1
    t[:, end] = 2
    t[:, end + 1:] = 0
    return t


@pytest.mark.parametrize("kind", ["tiny", "tiny-rn"])
def test_towers_give_normalised_features_in_the_joint_space(kind):
    model = small(kind)
    img, txt, scale = model(torch.randn(3, 3, 64, 64), tokens(3))
    assert img.shape == txt.shape == (3, 128)
    assert torch.allclose(img.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert torch.allclose(txt.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert scale.item() == pytest.approx(1 / 0.07, rel=1e-5)  # temperature initialised at 0.07


def test_temperature_is_clamped_at_100():
    model = small()
    with torch.no_grad():
        model.logit_scale.fill_(10.0)
    model.clamp_logit_scale()
    assert model.logit_scale.exp().item() == pytest.approx(100.0)


def test_text_feature_is_the_end_token_and_causal():
    model = small().eval()
    t = tokens(2)
    base = model.encode_text(t)
    after = t.clone()
    after[:, 20] = 7  # after the end token (position 10): invisible to a causal tower pooled at the end
    assert torch.allclose(model.encode_text(after), base, atol=1e-6)
    before = t.clone()
    before[:, 5] = 7
    assert not torch.allclose(model.encode_text(before), base, atol=1e-4)


@pytest.mark.parametrize("kind", ["tiny", "tiny-rn"])
def test_gradient_checkpointing_changes_memory_not_gradients(kind):
    grads = []
    for checkpointing in (False, True):
        model = small(kind)
        model.set_grad_checkpointing(checkpointing)
        torch.manual_seed(1)
        img, txt, scale = model(torch.randn(4, 3, 64, 64), tokens(4))
        ClipLoss()(img, txt, scale).backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        assert torch.allclose(grads[0][name], grads[1][name], atol=1e-6), name


def test_named_sizes_match_clip():
    # RN50 and ViT-B/32 as in CLIP / open_clip: 102.0M and 151.3M parameters with a 49408-token vocabulary.
    assert parameter_count(CLIP(MODELS["RN50"])) == pytest.approx(102.0e6, rel=2e-3)
    assert parameter_count(CLIP(MODELS["ViT-B-32"])) == pytest.approx(151.28e6, rel=2e-3)
    with pytest.raises(ValueError, match="unknown model"):
        model_config("ViT-Z")


def test_config_round_trips_through_a_dict():
    for cfg in MODELS.values():
        assert ModelConfig.from_dict(cfg.to_dict()) == cfg


def test_bf16_autocast_on_cpu_is_close_to_fp32():
    model = small()
    x, t = torch.randn(4, 3, 64, 64), tokens(4)
    ref = model.encode_image(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = model.encode_image(x)
    assert low.dtype == torch.bfloat16
    assert torch.nn.functional.cosine_similarity(low.float(), ref).min() > 0.98
    assert math.isfinite(ClipLoss()(low, model.encode_text(t), model.logit_scale.exp()).item())
