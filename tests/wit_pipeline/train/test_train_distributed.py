"""Two processes on gloo give the loss and gradients of one process on the global batch."""
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from wit_pipeline.train.config import model_config
from wit_pipeline.train.loss import ClipLoss
from wit_pipeline.train.model import CLIP

GLOBAL = 8


def batch():
    g = torch.Generator().manual_seed(3)
    images = torch.randn(GLOBAL, 3, 64, 64, generator=g)
    tokens = torch.randint(3, 300, (GLOBAL, 32), generator=g)
    tokens[:, 0], tokens[:, 12], tokens[:, 13:] = 1, 2, 0
    return images, tokens


def model():
    torch.manual_seed(0)
    return CLIP(model_config("tiny").replace(vocab_size=300))


def _rank(rank, world, port, out, local_loss):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    net = torch.nn.parallel.DistributedDataParallel(model())
    images, tokens = batch()
    part = slice(rank * GLOBAL // world, (rank + 1) * GLOBAL // world)
    loss = ClipLoss(local_loss=local_loss, gather_with_grad=True, rank=rank, world_size=world)(
        *net(images[part], tokens[part]))
    loss.backward()
    torch.save({"loss": loss.item(), "grads": {n: p.grad for n, p in net.module.named_parameters()}},
               os.path.join(out, f"rank{rank}.pt"))
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("local_loss", [False, True])
def test_two_ranks_match_one_process_on_the_global_batch(tmp_path, local_loss):
    reference = model()
    images, tokens = batch()
    ref_loss = ClipLoss()(*reference(images, tokens))
    ref_loss.backward()

    mp.start_processes(_rank, args=(2, _free_port(), str(tmp_path), local_loss), nprocs=2, join=True,
                       start_method="spawn")
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    # Global loss on every rank; with local_loss each rank's own rows, whose mean is the global loss.
    losses = [r["loss"] for r in ranks]
    assert sum(losses) / 2 == pytest.approx(ref_loss.item(), rel=1e-5)
    if not local_loss:
        assert losses[0] == pytest.approx(losses[1], rel=1e-6)
    for name, p in reference.named_parameters():
        for r in ranks:  # DDP leaves the same averaged gradient on both ranks
            assert torch.allclose(r["grads"][name], p.grad, atol=1e-6, rtol=1e-4), (name, local_loss)
