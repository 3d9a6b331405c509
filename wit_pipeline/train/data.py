"""Shards to training batches with the `webdataset` package.

Every loader process (a DataLoader worker on a rank) is one *stream*; stream s of S reads its own shards
(split by node and by worker), through a sample shuffle buffer, and yields ready batches of uint8 images and
token ids. A stream is a deterministic function of (seed, s): together with the DataLoader's round-robin order
over workers, the whole batch sequence is reproducible, and a resumed run re-reads each stream up to its saved
*cursor* (raw samples taken from its shuffle buffer) without decoding them, so it continues exactly where the
interrupted run stopped.

Bad samples (no image, undecodable image, no or empty caption) are skipped and counted per stream; a stream
that meets `max_consecutive_bad` bad samples in a row, or a whole pass over its shards without one readable
sample, stops training with an error instead of spinning forever (a corpus without captions must not hang).
"""
from __future__ import annotations

import json
import logging
import os
import random
import signal
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from wit_pipeline.train import augment

log = logging.getLogger(__name__)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
IMAGE_KEYS = ("jpg", "jpeg", "png", "webp")
CAPTION_KEY = "txt"


@dataclass(frozen=True)
class DataOptions:
    data: str  # a shards folder (or a `wit build` output), or brace patterns like /d/{00000..00099}.tar::/e/x.tar
    batch_size: int = 64  # per rank and per step (before accumulation)
    workers: int = 2  # DataLoader processes per rank; 0 reads in the training process
    resampled: bool = False  # draw shards with replacement forever (open_clip's --dataset-resampled)
    shard_shuffle: bool = True  # shuffle the shard order of each pass over the data
    shuffle_buffer: int = 2000  # samples held for shuffling per stream
    shuffle_initial: int = 500  # samples collected before the first one leaves the buffer
    seed: int = 0
    image_size: int = 224
    train: bool = True  # random resized crop (train) or resize + centre crop (eval)
    crop_scale: tuple = (0.9, 1.0)
    max_consecutive_bad: int = 1000

    def __post_init__(self):
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {self.batch_size}")
        if self.workers < 0 or self.shuffle_buffer < 1 or self.max_consecutive_bad < 1:
            raise ValueError("workers must be >= 0, shuffle_buffer and max_consecutive_bad >= 1")


def resolve_shards(data: str) -> tuple[list[str], int | None]:
    """The shard URLs and the epoch size (from sizes.json where there is one).

    A folder may be a shards folder or a `wit build` output holding one; patterns use brace notation and `::`.
    Shards listed with 0 samples in sizes.json are left out (every image of them failed to download).
    """
    import fsspec
    from webdataset.shardlists import expand_urls

    if "{" in data or "::" in data or data.endswith(".tar"):
        urls = expand_urls(data)
        return urls, None
    fs, root = fsspec.core.url_to_fs(data)
    if not fs.isdir(root):
        raise ValueError(f"{data} is neither a folder of .tar shards nor a shard pattern like dir/{{00000..00009}}.tar")
    if fs.isdir(root.rstrip("/") + "/shards"):
        data, root = data.rstrip("/") + "/shards", root.rstrip("/") + "/shards"
    tars = sorted(p for p in fs.ls(root, detail=False) if p.endswith(".tar"))
    if not tars:
        raise ValueError(f"no .tar shards in {data}")
    prefix = data.rstrip("/") + "/"
    urls = [prefix + os.path.basename(p) for p in tars]
    sizes_path = root.rstrip("/") + "/sizes.json"
    if not fs.exists(sizes_path):
        return urls, None
    with fs.open(sizes_path) as f:
        sizes = json.load(f)
    urls = [u for u in urls if sizes.get(os.path.basename(u), 1) > 0]
    if not urls:
        raise ValueError(f"every shard in {data} is empty according to sizes.json: nothing to train on")
    return urls, sum(int(sizes.get(os.path.basename(u), 0)) for u in urls)


def check_shard(url: str, look_at: int = 64) -> None:
    """Fail early and clearly when the first shard has no images or no captions, before any worker starts."""
    from webdataset.tariterators import tarfile_samples

    keys: set = set()
    try:
        for i, sample in enumerate(tarfile_samples([{"url": url}])):
            keys.update(k for k in sample if not k.startswith("__"))
            if i + 1 >= look_at:
                break
    except Exception as e:  # noqa: BLE001 - any reader error is reported with the shard's name
        raise ValueError(f"cannot read shard {url}: {e}") from e
    if not keys:
        raise ValueError(f"shard {url} holds no samples")
    if CAPTION_KEY not in keys:
        raise ValueError(f"shard {url} has no captions ('.{CAPTION_KEY}' entries; it has {sorted(keys)}): "
                         "a CLIP corpus needs an image and a caption per sample")
    if not keys & set(IMAGE_KEYS):
        raise ValueError(f"shard {url} has no images ({'/'.join(IMAGE_KEYS)} entries; it has {sorted(keys)})")


def _stream_seed(*parts) -> int:
    return random.Random("/".join(map(str, parts))).getrandbits(63)


class ShardStream(IterableDataset):
    """Batches of {"images": uint8 (N,3,H,W), "tokens": int64 (N,ctx), "stream", "cursor", "bad"}."""

    def __init__(self, urls: list[str], opts: DataOptions, tokenizer_json: str, context_length: int,
                 rank: int = 0, world_size: int = 1, cursors: dict | None = None, rotation: int = 0,
                 bad: dict | None = None):
        super().__init__()
        self.rotation = rotation
        self.bad = dict(bad or {})  # bad samples met before a resume, per stream: the count goes on from there
        self.urls, self.opts = list(urls), opts
        self.tokenizer_json, self.context_length = tokenizer_json, context_length
        self.rank, self.world_size = rank, world_size
        self.cursors = dict(cursors or {})

    def _shard_urls(self, stream: int, streams: int, progress: list):
        """Endless shard URLs for one stream: passes over its split, or draws with replacement."""
        if self.opts.resampled:
            rng = random.Random(_stream_seed(self.opts.seed, stream, "resample"))
            empty_draws, before = 0, progress[0]
            while True:
                yield rng.choice(self.urls)
                empty_draws = empty_draws + 1 if progress[0] == before else 0
                before = progress[0]
                if empty_draws >= max(20, 2 * len(self.urls)):  # drawn over and over, never a sample
                    raise RuntimeError(f"stream {stream}: {empty_draws} shard draws in a row gave no readable "
                                       f"sample (of {len(self.urls)} shards, e.g. {self.urls[0]})")
        pass_index = 0
        while True:
            order = list(self.urls)
            if self.opts.shard_shuffle:
                random.Random(_stream_seed(self.opts.seed, "pass", pass_index)).shuffle(order)
            before = progress[0]
            yield from order[stream::streams]
            if progress[0] == before:  # a whole pass gave nothing readable: stop instead of looping forever
                raise RuntimeError(f"stream {stream} read no sample at all from its shards "
                                   f"{order[stream::streams][:3]}...: are they readable tar files?")
            pass_index += 1

    def __iter__(self):
        from webdataset.filters import _shuffle
        from webdataset.tariterators import tarfile_samples

        from wit_pipeline.train.tokenizer import Tokenizer

        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        # The DataLoader always asks worker 0 first; after a resume that must be the stream whose turn it is.
        worker = (worker + self.rotation) % workers
        stream, streams = self.rank * workers + worker, self.world_size * workers
        tokenizer = Tokenizer.from_json(self.tokenizer_json, self.context_length)
        opts, size = self.opts, self.opts.image_size
        progress = [0]  # raw samples read, seen by the shard generator to detect an unreadable pass

        def on_error(exn) -> bool:
            log.warning("stream %d: skipping unreadable data: %s", stream, exn)
            return True  # keep going: a damaged shard loses its bad part, not the run

        def counted(samples):
            for sample in samples:
                progress[0] += 1
                yield sample

        raw = tarfile_samples(({"url": u} for u in self._shard_urls(stream, streams, progress)), handler=on_error)
        shuffled = _shuffle(counted(raw), opts.shuffle_buffer, opts.shuffle_initial,
                            rng=random.Random(_stream_seed(opts.seed, stream, "samples")))
        skip = int(self.cursors.get(stream, 0))
        cursor, bad, bad_run = 0, int(self.bad.get(stream, 0)), 0
        images, texts = [], []
        for sample in shuffled:
            cursor += 1
            if cursor <= skip:  # already trained on before the resume: not decoded again
                continue
            try:
                image_key = next((k for k in IMAGE_KEYS if k in sample), None)
                caption = sample.get(CAPTION_KEY)
                if image_key is None or caption is None:
                    raise ValueError(f"sample {sample.get('__key__')} lacks an image or a caption")
                text = caption.decode("utf-8").strip()
                if not text:
                    raise ValueError(f"sample {sample.get('__key__')} has an empty caption")
                img = augment.decode(sample[image_key], size)
                if opts.train:
                    rng = random.Random(_stream_seed(opts.seed, stream, cursor))
                    img = augment.random_resized_crop(img, size, rng, opts.crop_scale)
                else:
                    img = augment.resize_center_crop(img, size)
                images.append(augment.to_uint8(img))
                texts.append(text)
                bad_run = 0
            except Exception as e:  # noqa: BLE001 - a bad sample is counted and skipped, never fatal alone
                bad += 1
                bad_run += 1
                log.debug("stream %d: bad sample: %s", stream, e)
                if bad_run >= opts.max_consecutive_bad:
                    raise RuntimeError(
                        f"{bad_run} bad samples in a row in stream {stream} (last: {e}); the corpus looks unusable "
                        "for training (no captions? no decodable images?)") from e
                continue
            if len(images) == opts.batch_size:
                yield {"images": torch.stack(images), "tokens": torch.from_numpy(tokenizer.encode(texts)),
                       "stream": stream, "cursor": cursor, "bad": bad}
                images, texts = [], []


def _worker_init(_):
    torch.set_num_threads(1)  # decoding is Pillow's; torch threads in workers only fight the trainer's
    # A stop signal sent to the whole process group (`timeout`, Slurm's scancel, container runtimes) is the
    # trainer's to handle: it saves a checkpoint, then stops the workers itself (stop_workers).
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # held back by start_workers until now


def start_workers(loader: DataLoader):
    """iter(loader), with the stop signals held back while its workers start: one sent in that moment reaches
    the trainer once they ignore it, instead of killing a worker before it could."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        return iter(loader)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def stop_workers(batches) -> None:
    """Shut the loader's workers down now (persistent ones otherwise linger until interpreter exit). They ignore
    SIGTERM, so torch's last resort for one that does not finish, terminate(), cannot end it: it is killed."""
    workers = list(getattr(batches, "_workers", ()))
    shutdown = getattr(batches, "_shutdown_workers", None)
    if shutdown is not None:
        shutdown()
    for w in workers:
        if w.is_alive():
            w.kill()
            w.join()


def make_loader(opts: DataOptions, tokenizer_json: str, context_length: int, rank: int = 0, world_size: int = 1,
                cursors: dict | None = None, urls: list[str] | None = None, rotation: int = 0,
                bad: dict | None = None, pin_memory: bool = False) -> tuple[DataLoader, int]:
    """The training DataLoader and the worker count it uses (never more streams than shards, which would
    leave a stream with nothing to read). `rotation`: batches already taken from this rank's loader. Its
    workers ignore SIGINT and SIGTERM: start them with start_workers, end them with stop_workers."""
    if urls is None:
        urls, _ = resolve_shards(opts.data)
    workers = opts.workers
    if not opts.resampled:
        per_rank = len(urls) // world_size
        if per_rank < 1:
            raise ValueError(f"{len(urls)} shards cannot be split over {world_size} ranks: use --resampled")
        if max(workers, 1) > per_rank:
            log.warning("only %d shards per rank: using %d loader workers instead of %d", per_rank,
                        min(workers, per_rank), workers)
            workers = min(workers, per_rank)
    if workers:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # the Rust pool must not be forked
    dataset = ShardStream(urls, opts, tokenizer_json, context_length, rank, world_size, cursors,
                          rotation % max(workers, 1), bad)
    loader = DataLoader(dataset, batch_size=None, num_workers=workers, worker_init_fn=_worker_init,
                        persistent_workers=workers > 0, prefetch_factor=4 if workers else None,
                        pin_memory=pin_memory)
    return loader, workers


def iter_captions(urls: list[str], limit: int):
    """Captions of the shards in order, for training the tokenizer; unreadable parts are skipped."""
    from webdataset.tariterators import tarfile_samples

    count = 0
    for sample in tarfile_samples(({"url": u} for u in urls), handler=lambda e: True):
        caption = sample.get(CAPTION_KEY)
        if caption:
            yield caption.decode("utf-8", "replace")
            count += 1
            if count >= limit:
                return
