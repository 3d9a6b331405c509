"""Download one shard: fetch every row concurrently, decode and resize off the event loop, write the shard.

`ShardDownloader` holds the per-process resources (aiohttp session, robots cache, decode threads) and is
reused across shards; it is what `wit download`'s worker processes and the Beam DoFn both use.
"""
from __future__ import annotations

import asyncio
import hashlib
import os
import queue
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa

from .budget import WHOLE, HostShare
from .errors import SUCCESS, DownloadFailure
from .fetch import Fetcher, Response
from .images import process_image
from .options import DownloadOptions, ImageOptions
from .writer import Output, RowResult, completed_stats, write_shard


class _Decoder:
    """Decode threads fed by a queue, answering in batches.

    One run_in_executor per image costs two cross-thread wake-ups (plus the future plumbing); on virtual
    machines each wake-up is expensive. Here a busy thread takes the next body without being woken, and
    hands finished images back in one loop call per batch (when its queue runs dry or 16 are done).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, threads: int, options: ImageOptions):
        self._loop, self._options = loop, options
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, name=f"wit-decode-{i}", daemon=True)
                         for i in range(threads)]
        for thread in self._threads:
            thread.start()

    def decode(self, body: bytes) -> asyncio.Future:
        """A future of (ProcessedImage, sha256 of its bytes), or of the DownloadFailure."""
        future = self._loop.create_future()
        self._queue.put((body, future))
        return future

    def close(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()

    def _work(self) -> None:
        done = []
        while True:
            if done and self._queue.empty():
                self._loop.call_soon_threadsafe(_settle, done)
                done = []
            item = self._queue.get()
            if item is None:
                if done:
                    self._loop.call_soon_threadsafe(_settle, done)
                return
            body, future = item
            try:
                image = process_image(body, self._options)
                done.append((future, (image, hashlib.sha256(image.data).hexdigest()), None))
            except Exception as e:  # DownloadFailure, or a bug: either way it belongs to that row
                done.append((future, None, e))
            if len(done) >= 16:
                self._loop.call_soon_threadsafe(_settle, done)
                done = []


def _settle(done) -> None:
    for future, result, error in done:
        if not future.done():  # a cancelled row
            future.set_exception(error) if error is not None else future.set_result(result)


class ShardDownloader:
    """Per-process downloader. Call `download(shard_id, table, carry)`; it runs its own event loop."""

    def __init__(self, options: DownloadOptions, on_row=None, share: HostShare = WHOLE):
        self.options = options
        self.share = share  # this downloader's share of every host's budget (budget.py), unless planned
        self.output = Output(options.output)
        self.on_row = on_row  # called with the row count as rows finish (progress)
        self._loop = asyncio.new_event_loop()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wit-write")
        self._decoder = _Decoder(self._loop, options.threads, options.image)
        self._fetcher: Fetcher | None = None

    def download(self, shard_id: int, table: pa.Table, carry: list[str]) -> dict:
        """Download and write one shard; returns its stats. A complete shard is skipped (stats with skipped)."""
        return completed_stats(self.output, shard_id) or self._loop.run_until_complete(
            self._download(shard_id, table, carry))

    def download_group(self, shards: list, carry: list[str], shares: dict[str, HostShare],
                       default: HostShare) -> list[dict]:
        """Download a planned group's shards one after another, holding `shares` of the hosts its rows name
        (and `default` of any other host a redirect leads to); each shard's stats."""
        self._loop.run_until_complete(self._session())
        self._fetcher.set_shares(shares, default)
        try:
            return [self.download(shard_id, table, carry) for shard_id, table in shards]
        finally:
            self._fetcher.set_shares({}, self.share)

    def probe(self, urls: list[str]) -> list[RowResult]:
        """Fetch and decode each URL as a shard would, writing nothing: each row's status (a pilot download)."""
        return self._loop.run_until_complete(self._probe(urls))

    def close(self) -> None:
        if self._fetcher is not None:
            self._loop.run_until_complete(self._fetcher.__aexit__(None, None, None))
            self._fetcher = None
        self._decoder.close()
        self._writer.shutdown(wait=True)
        self._loop.close()

    async def _session(self) -> None:
        if self._fetcher is None:  # the session must be made inside the loop that uses it
            self._fetcher = await Fetcher(self.options.fetch).__aenter__()
            self._fetcher.set_shares({}, self.share)

    async def _probe(self, urls: list[str]) -> list[RowResult]:
        await self._session()
        with tempfile.TemporaryFile(prefix="wit-spool-") as spool:
            results = await asyncio.gather(*(self._row(url, spool) for url in urls))
        self._fetcher.forget()
        return [RowResult(r.status, r.error_message) for r in results]

    async def _download(self, shard_id: int, table: pa.Table, carry: list[str]) -> dict:
        await self._session()
        urls = table.column(self.options.manifest.url_col).to_pylist()
        # Images are spooled to one local temporary file as they finish, then copied into the tar in key
        # order: memory stays bounded by the images in flight, not the shard size.
        with tempfile.TemporaryFile(prefix="wit-spool-") as spool:
            results = await asyncio.gather(*(self._row(url, spool) for url in urls))
            self._fetcher.forget()
            return await self._loop.run_in_executor(self._writer, lambda: write_shard(
                self.output, shard_id, table, results, spool,
                url_col=self.options.manifest.url_col, caption_col=self.options.manifest.caption_col,
                carry=carry, shard_size=self.options.shard_size, image_ext=self.options.image.encode_format))

    async def _row(self, url, spool) -> RowResult:
        async def handle(response: Response) -> RowResult:
            image, sha256 = await self._decoder.decode(response.body)
            offset = spool.seek(0, os.SEEK_END)  # no await between seek and write: no lock needed
            spool.write(image.data)
            return RowResult(SUCCESS, None, image.width, image.height, image.original_width,
                             image.original_height, sha256, (offset, len(image.data)))

        try:
            result = await self._fetcher.fetch(url, handle)
        except DownloadFailure as failure:
            result = RowResult(failure.status, failure.message)
        except Exception as e:  # a bug must cost one row with its reason, never the shard
            result = RowResult("internal_error", f"{type(e).__name__}: {e}")
        if self.on_row is not None:
            self.on_row(1)
        return result
