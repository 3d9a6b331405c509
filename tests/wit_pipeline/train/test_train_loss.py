import math

import pytest
import torch
import torch.nn.functional as F

from wit_pipeline.train import loop
from wit_pipeline.train.config import model_config
from wit_pipeline.train.loss import ClipLoss
from wit_pipeline.train.model import CLIP


def test_retrieval_chance_is_exact():
    from wit_pipeline.train.evaluate import _chance_any
    assert _chance_any(50, 5, 10) == pytest.approx(1 - math.comb(45, 10) / math.comb(50, 10))  # 0.689, not 1
    assert _chance_any(5060, 5, 10) == pytest.approx(1 - math.comb(5055, 10) / math.comb(5060, 10))
    assert _chance_any(10, 10, 1) == 1.0 and _chance_any(10, 0, 5) == 0.0


def test_symmetric_cross_entropy_over_the_similarities():
    torch.manual_seed(0)
    img, txt = F.normalize(torch.randn(6, 8), dim=-1), F.normalize(torch.randn(6, 8), dim=-1)
    scale = torch.tensor(20.0)
    logits = scale * img @ txt.T
    want = (F.cross_entropy(logits, torch.arange(6)) + F.cross_entropy(logits.T, torch.arange(6))) / 2
    assert ClipLoss()(img, txt, scale).item() == pytest.approx(want.item(), rel=1e-6)
    # matched pairs far apart from the rest give a loss near zero; random ones near log(N)
    assert ClipLoss()(img, img, torch.tensor(100.0)).item() < 1e-3


def test_accumulation_gives_the_gradient_of_the_whole_batch():
    """Two micro-batches of 6 with cached features == one batch of 12 (the temperature's gradient included)."""
    cfg = model_config("tiny").replace(vocab_size=300)
    torch.manual_seed(0)
    images = torch.randint(0, 256, (12, 3, 64, 64), dtype=torch.uint8)
    tokens = torch.randint(3, 300, (12, 32))
    tokens[:, 0], tokens[:, 9], tokens[:, 10:] = 1, 2, 0
    grads = []
    for accum in (1, 2):
        torch.manual_seed(1)
        model = CLIP(cfg)
        micro = [{"images": images[i:i + 12 // accum], "tokens": tokens[i:i + 12 // accum]}
                 for i in range(0, 12, 12 // accum)]
        optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # lr 0: the step leaves the weights as they were
        state = loop.State(model=model, optimizer=optimizer, loss=ClipLoss(), device=torch.device("cpu"))
        loss = loop._step(state, micro)
        grads.append((loss, {n: p.grad.clone() for n, p in model.named_parameters()}))
    assert grads[0][0] == pytest.approx(grads[1][0], rel=1e-5)
    for name, g in grads[0][1].items():
        assert torch.allclose(g, grads[1][1][name], atol=1e-5, rtol=1e-4), name


def test_warmup_then_cosine():
    assert loop.lr_factor(0, 10, 100) == pytest.approx(0.1)
    assert loop.lr_factor(9, 10, 100) == pytest.approx(1.0)
    assert loop.lr_factor(10, 10, 100) == pytest.approx(1.0)
    assert loop.lr_factor(55, 10, 100) == pytest.approx(0.5)
    assert loop.lr_factor(100, 10, 100) == pytest.approx(0.0, abs=1e-12)
    assert loop.lr_factor(10, 0, 20) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))


def test_no_weight_decay_on_gains_biases_and_temperature():
    model = CLIP(model_config("tiny").replace(vocab_size=300))
    no_decay, decay = loop.param_groups(model, 0.2)
    assert no_decay["weight_decay"] == 0 and decay["weight_decay"] == 0.2
    ids = {id(p) for p in no_decay["params"]}
    named = dict(model.named_parameters())
    assert id(named["logit_scale"]) in ids
    assert id(named["text.ln_final.weight"]) in ids and id(named["text.ln_final.bias"]) in ids
    assert id(named["visual.transformer.blocks.0.mlp.c_fc.bias"]) in ids
    assert id(named["visual.transformer.blocks.0.mlp.c_fc.weight"]) not in ids
    assert id(named["text.token_embedding.weight"]) not in ids
    assert len(no_decay["params"]) + len(decay["params"]) == len(named)


def test_options_are_checked():
    with pytest.raises(ValueError, match="precision"):
        loop.TrainOptions(data="d", output="o", precision="fp8")
    with pytest.raises(ValueError, match="unknown model"):
        loop.TrainOptions(data="d", output="o", model="huge")
    with pytest.raises(ValueError, match="batch_size"):
        loop.TrainOptions(data="d", output="o", batch_size=0)


def test_similarities_are_float32_under_low_precision_autocast():
    torch.manual_seed(0)
    img, txt = F.normalize(torch.randn(8, 16), dim=-1), F.normalize(torch.randn(8, 16), dim=-1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        per_image, _ = ClipLoss().logits(img.bfloat16(), txt.bfloat16(), torch.tensor(100.0))
        loss = ClipLoss()(img.bfloat16(), txt.bfloat16(), torch.tensor(100.0))
    assert per_image.dtype == torch.float32
    exact = ClipLoss()(img.bfloat16().float(), txt.bfloat16().float(), torch.tensor(100.0))
    assert loss.item() == pytest.approx(exact.item(), rel=1e-6)


def test_local_loss_without_gradient_gathers_is_refused():
    with pytest.raises(ValueError, match="gather_with_grad"):
        ClipLoss(local_loss=True, gather_with_grad=False, rank=0, world_size=2)
