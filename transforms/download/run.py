"""`wit download` without Beam: shards of a manifest spread over worker processes, a progress bar, a summary.

The main process streams the manifest into shards and hands each to a worker process; each worker keeps one
ShardDownloader (event loop, aiohttp session, robots cache, decode threads) for all its shards.
"""
from __future__ import annotations

import multiprocessing
import sys
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field

from .budget import HostShare
from .manifest import expand_inputs, iter_shards
from .options import DownloadOptions
from .provenance import DOWNLOAD_RUN_OPTIONS, fingerprint, option_values, prepare_output, record
from .shard import ShardDownloader
from .writer import Output, completed_stats, write_sizes, written_files


@dataclass
class Summary:
    shards: int = 0
    skipped_shards: int = 0
    count: int = 0
    successes: int = 0
    status_counts: Counter = field(default_factory=Counter)
    error_counts: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def add(self, stats: dict) -> None:
        self.shards += 1
        self.skipped_shards += bool(stats.get("skipped"))
        self.count += stats["count"]
        self.successes += stats["successes"]
        self.status_counts.update(stats["status_counts"])
        self.error_counts.update(stats["error_counts"])

    def as_dict(self) -> dict:
        return {"shards": self.shards, "skipped_shards": self.skipped_shards, "count": self.count,
                "successes": self.successes, "status_counts": dict(self.status_counts),
                "top_errors": dict(self.error_counts.most_common(10)), "seconds": round(self.seconds, 3),
                "images_per_second": round(self.successes / self.seconds, 1) if self.seconds else None}

    def report(self) -> str:
        lines = [f"{self.count} rows in {self.shards} shards ({self.skipped_shards} already complete) "
                 f"in {self.seconds:.1f} s: {self.successes} images"
                 + (f", {self.successes / self.seconds:.0f} images/s" if self.seconds else "")]
        for status, n in sorted(self.status_counts.items(), key=lambda kv: -kv[1]):
            lines.append(f"  {status:<18} {n:>9}  {100 * n / max(1, self.count):5.1f}%")
        if self.error_counts:
            lines.append("  most frequent errors:")
            lines += [f"    {n:>7}  {message}" for message, n in self.error_counts.most_common(8)]
        return "\n".join(lines)


# --- worker process state: one downloader per process, made by the pool initializer ---------------------
_worker: ShardDownloader | None = None


def _init_worker(options: DownloadOptions, counter, numbers) -> None:
    global _worker

    def on_row(n: int) -> None:
        with counter.get_lock():
            counter.value += n

    with numbers.get_lock():  # worker p of P holds lane p of every host: 1/P of its budget (budget.py)
        number, numbers.value = numbers.value, numbers.value + 1
    share = HostShare((number % options.processes,), options.processes)
    _worker = ShardDownloader(options, on_row=on_row, share=share)


def _work(shard_id, table, carry) -> dict:
    return _worker.download(shard_id, table, carry)


def download(inputs: list[str], options: DownloadOptions, total_rows: int | None = None,
             overwrite: bool = False) -> Summary:
    """Download every shard of the manifest(s) into options.output. Complete shards are skipped when the
    output was made from the same manifest and options; an output made otherwise is refused (OutputMismatch),
    or with `overwrite` emptied first."""
    out = Output(options.output)
    out.makedirs()
    prepare_output(out, download_provenance(inputs, options), written_files, overwrite)
    summary = Summary()
    start = time.monotonic()
    progress = _Progress(options.progress, total_rows)
    try:
        shards = iter_shards(inputs, options.manifest, options.shard_size)
        if options.processes == 1:
            downloader = ShardDownloader(options, on_row=progress.add)
            try:
                for shard_id, table, carry in shards:
                    stats = downloader.download(shard_id, table, carry)
                    summary.add(stats)
                    if stats.get("skipped"):
                        progress.add(table.num_rows)
            finally:
                downloader.close()
        else:
            _download_parallel(out, shards, options, summary, progress)
    finally:
        progress.close()
    write_sizes(out)
    summary.seconds = time.monotonic() - start
    return summary


def download_provenance(inputs: list[str], options: DownloadOptions) -> dict:
    return record("download", [fingerprint(path) for path in expand_inputs(inputs)],
                  option_values(options, DOWNLOAD_RUN_OPTIONS))


def _download_parallel(out, shards, options: DownloadOptions, summary: Summary, progress) -> None:
    # fork: workers start at once and inherit imports; the pool is made before any thread of ours starts.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    counter, numbers = context.Value("q", 0), context.Value("i", 0)
    pending, skipped_rows = set(), 0
    with ProcessPoolExecutor(options.processes, mp_context=context, initializer=_init_worker,
                             initargs=(options, counter, numbers)) as pool:
        def drain(until: int) -> None:
            nonlocal pending
            while len(pending) > until:
                done, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                progress.set(counter.value + skipped_rows)
                for future in done:
                    summary.add(future.result())

        for shard_id, table, carry in shards:
            stats = completed_stats(out, shard_id)  # checked here so skipped shards cost no hand-off
            if stats is not None:
                summary.add(stats)
                skipped_rows += table.num_rows
                continue
            # Bounded hand-off: at most two shards queued per worker, so the manifest is never read far ahead.
            drain(2 * options.processes - 1)
            pending.add(pool.submit(_work, shard_id, table, carry))
        drain(0)
        progress.set(counter.value + skipped_rows)


class _Progress:
    """A tqdm bar on a terminal; nothing otherwise."""

    def __init__(self, enabled: bool, total: int | None):
        self.bar = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm
            self.bar = tqdm(total=total, unit="img", smoothing=0.1, dynamic_ncols=True)

    def add(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def set(self, done: int) -> None:
        if self.bar is not None:
            self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
