"""The network side of the downloader: one aiohttp session, per-host and global limits, redirects followed
by hand (so every hop passes the address and robots rules), retries with backoff that honour Retry-After.

Every failure leaves as a DownloadFailure with a status and a message; nothing else escapes `fetch`.
"""
from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import aiohttp
from yarl import URL

from .body import accept_encoding, codings, decode_body
from .budget import WHOLE, HostShare, Pacer
from .errors import DownloadFailure
from .options import ROBOTS_TOKEN, FetchOptions
from .safety import BLOCKED_MARK, AddressPolicy, BlockedAddressError, GuardedConnector, RobotsRules, \
    ip_literal, opt_out_directive, parse_robots

REDIRECTS = frozenset((301, 302, 303, 307, 308))
RETRYABLE_STATUSES = frozenset((408, 425, 429, 500, 502, 503, 504))
ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309 asks crawlers to parse at least 500 KiB
MAX_URL_LENGTH = 8192  # longer request lines are refused by most servers (nginx, Apache: 8 KiB)
MAX_REMEMBERED_ORIGINS = 100_000  # robots.txt outcomes and address verdicts kept between shards
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*")


@dataclass(frozen=True)
class Response:
    url: str  # after redirects
    body: bytes
    content_type: str


def looks_like_image(body: bytes) -> bool:
    """Magic-number sniffing, for servers that label images text/plain or octet-stream."""
    return body.startswith(_IMAGE_MAGIC) or (body[:4] == b"RIFF" and body[8:12] == b"WEBP") or (
        body[4:12] in (b"ftypavif", b"ftypheic", b"ftypmif1"))


def check_url(url, base: URL | None = None) -> URL:
    """The URL, normalised exactly as aiohttp will send it (IDNA, Unicode digits and dots folded, so that
    `１２７．０．０．１` is 127.0.0.1 here too), when it is fetchable http(s); else DownloadFailure('invalid_url').
    `base` resolves a relative URL (a redirect's Location)."""
    if isinstance(url, str):
        url = url.strip()
    if not isinstance(url, str) or not url:
        raise DownloadFailure("invalid_url", "the URL is empty")
    if len(url) > MAX_URL_LENGTH:
        raise DownloadFailure("invalid_url", f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parsed = URL(url)
        if base is not None:
            parsed = base.join(parsed)
        scheme = parsed.scheme
        parsed.port  # raises on a malformed port
        host = parsed.host
    except (ValueError, UnicodeError, TypeError) as e:
        message = str(e)
        if "host is required" in message:
            raise DownloadFailure("invalid_url", "the URL has no host") from None
        raise DownloadFailure("invalid_url", f"malformed URL: {message}") from None
    if scheme not in ("http", "https"):
        raise DownloadFailure("invalid_url", f"scheme {scheme or '(none)'} is not http or https")
    if not host:
        raise DownloadFailure("invalid_url", "the URL has no host")
    return parsed


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # str.isdigit() also takes "²", which float() refuses
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class Fetcher:
    """Fetches images for one process. Use as `async with Fetcher(options) as f: await f.fetch(url, handle)`."""

    def __init__(self, options: FetchOptions):
        self.options = options
        self.policy = AddressPolicy(options.allow_private_network, tuple(options.allowed_networks))
        self._in_flight = asyncio.Semaphore(options.concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._admitted: dict[str, asyncio.Semaphore] = {}  # rows per host allowed to take a global slot
        self._pacers: dict[str, Pacer] = {}
        # This downloader's share of each host's budget (budget.py): by host, else `_share` for any host.
        self._shares: dict[str, HostShare] = {}
        self._share = WHOLE
        self._robots: dict[str, asyncio.Task] = {}  # origin -> the fetch of its robots.txt
        self._robots_rules: dict[str, RobotsRules | DownloadFailure] = {}  # origin -> its outcome, once known
        self._literal_refusals: dict[str, str | None] = {}  # host -> why its IP literal is refused
        self._session: aiohttp.ClientSession | None = None
        # Inflating bodies and parsing robots.txt: CPU work kept off the event loop, in threads of its own (the
        # default executor also runs aiohttp's DNS lookups, which must never wait behind it).
        self._cpu = ThreadPoolExecutor(max_workers=2, thread_name_prefix="wit-fetch-cpu")
        # Connect and read timeouts per socket; the total per request is enforced with asyncio.timeout so
        # that time spent queueing for a slot never counts against a request.
        self._timeout = aiohttp.ClientTimeout(total=None, connect=None, sock_connect=options.connect_timeout,
                                              sock_read=options.read_timeout)

    async def __aenter__(self) -> "Fetcher":
        connector = GuardedConnector(self.policy, limit=0, limit_per_host=0, ttl_dns_cache=300,
                                     enable_cleanup_closed=True)
        # auto_decompress off: body.decode_body inflates with a bound; aiohttp would inflate it all.
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=self._timeout, cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False, trust_env=False,
            headers={"User-Agent": self.options.user_agent, "Accept": "image/*,*/*;q=0.8",
                     "Accept-Encoding": accept_encoding()})
        return self

    async def __aexit__(self, *exc) -> None:
        for task in self._robots.values():
            task.cancel()
        await self._session.close()
        self._cpu.shutdown(wait=False, cancel_futures=True)

    async def _off_loop(self, function, *args):
        return await asyncio.get_running_loop().run_in_executor(self._cpu, function, *args)

    def forget(self) -> None:
        """Trim per-host state between shards (nothing is in flight then), so a worker that lives for a whole
        job stays bounded: host slots go, and only the most recent MAX_REMEMBERED_ORIGINS robots outcomes and
        address verdicts stay (dicts keep insertion order: the oldest go; a forgotten robots.txt is refetched)."""
        self._drop_host_slots()
        for cache in (self._robots_rules, self._literal_refusals):
            for key in list(cache)[:max(0, len(cache) - MAX_REMEMBERED_ORIGINS)]:
                del cache[key]
        self._robots = {o: t for o, t in self._robots.items() if o in self._robots_rules}

    def set_shares(self, shares: dict[str, HostShare], default: HostShare = WHOLE) -> None:
        """This downloader's share of each host's budget from now on (between shards: nothing in flight)."""
        self._shares, self._share = shares, default
        self._drop_host_slots()

    def _drop_host_slots(self) -> None:
        """Forget the per-host semaphores and pacers; they are made again, from the shares, when next used."""
        self._hosts.clear()
        self._admitted.clear()
        self._pacers.clear()

    def _host_slot(self, host: str, slots: dict | None = None) -> asyncio.Semaphore:
        slots = self._hosts if slots is None else slots
        slot = slots.get(host)
        if slot is None:
            share = self._shares.get(host, self._share)
            slot = slots[host] = asyncio.Semaphore(share.concurrency(self.options.per_host_concurrency))
        return slot

    async def _pace(self, host: str) -> None:
        """Wait for this downloader's next slot on the host's rate grid (no wait without a rate)."""
        if self.options.per_host_rate:
            pacer = self._pacers.get(host)
            if pacer is None:
                pacer = self._pacers[host] = Pacer(self.options.per_host_rate, self._shares.get(host, self._share))
            await pacer.wait()

    async def fetch(self, url, handle: Callable[[Response], Awaitable]):
        """Fetch `url` and return `await handle(response)`, retrying transient failures.

        The global slot, which bounds requests and bodies in memory, is held for one attempt and released
        while waiting to retry; `handle` runs inside it, so a body is never held outside it. A host slot is
        held only around each request to that host, so no row ever waits for one host while holding another
        (two hosts redirecting to each other deadlocked when the first host's slot was held throughout). One
        attempt, redirects and robots.txt fetches included, ends after attempt_timeout.
        """
        url = check_url(url)
        # Only as many rows of one host as it has slots take global slots: a host held to a small share
        # (or a low rate) must not fill the global slots with rows waiting for it while other hosts idle.
        async with self._host_slot(url.host, self._admitted):
            return await self._attempts(url, handle)

    async def _attempts(self, url: URL, handle: Callable[[Response], Awaitable]):
        for attempt in range(self.options.retries + 1):
            try:
                async with self._in_flight:
                    try:
                        async with asyncio.timeout(self.options.attempt_seconds):
                            response = await self._follow(url)
                    except TimeoutError:
                        raise DownloadFailure("timeout", "the request, its redirects and robots.txt took more "
                                              f"than {self.options.attempt_seconds:g} s (attempt_timeout)", True)
                    return await handle(response)
            except DownloadFailure as failure:
                delay = self._retry_delay(failure, attempt)
                if delay is None:
                    raise
            await asyncio.sleep(delay)

    def _retry_delay(self, failure: DownloadFailure, attempt: int) -> float | None:
        """Seconds to wait before the next attempt, or None to give up (raising the failure)."""
        if not failure.retryable or attempt >= self.options.retries:
            return None
        if failure.retry_after is not None:
            if failure.retry_after > self.options.max_retry_after:
                failure.message += (f" (Retry-After {failure.retry_after:g} s is more than "
                                    f"max_retry_after={self.options.max_retry_after:g} s)")
                return None
            return failure.retry_after
        return self.options.backoff * (2 ** attempt) * random.uniform(0.8, 1.2)

    async def _follow(self, url: URL) -> Response:
        seen = {url}
        for hop in range(self.options.max_redirects + 1):
            host = url.host
            self._check_literal(host)  # before robots.txt, so a refused address is reported as such
            if self.options.respect_robots:
                await self._check_robots(url)
            async with self._host_slot(host):
                await self._pace(host)
                result = await self._request(url, host)
            if isinstance(result, Response):
                return result
            try:
                url = check_url(result, base=url)
            except DownloadFailure as failure:
                raise DownloadFailure("redirect_error", f"redirect to an unusable URL: {failure.message}") from None
            if url in seen:
                raise DownloadFailure("redirect_error", f"redirect loop after {hop + 1} redirects")
            seen.add(url)
        raise DownloadFailure("redirect_error", f"more than max_redirects={self.options.max_redirects} redirects")

    async def _request(self, url: URL, host: str, max_bytes: int | None = None, for_robots: bool = False):
        """One GET: a Response, or the Location of a redirect (str). Raises DownloadFailure."""
        self._check_literal(host)
        max_bytes = max_bytes or self.options.max_body_bytes
        try:
            async with asyncio.timeout(self.options.total_timeout):
                async with self._session.get(url, allow_redirects=False) as resp:
                    return await self._read(resp, max_bytes, for_robots)
        except DownloadFailure:
            raise
        except TimeoutError as e:  # aiohttp's socket timeouts subclass TimeoutError too
            raise self._timeout_failure(e) from None
        except aiohttp.ClientConnectorDNSError as e:
            if isinstance(e.os_error, BlockedAddressError):
                raise DownloadFailure("blocked_address", str(e.os_error)) from None
            raise DownloadFailure("network_error", f"DNS lookup failed for {host}: {e.os_error}") from None
        except aiohttp.ClientConnectorError as e:
            if isinstance(e.os_error, BlockedAddressError) or BLOCKED_MARK in str(e.os_error):
                raise DownloadFailure("blocked_address", _blocked_message(e.os_error)) from None
            raise DownloadFailure("network_error", f"cannot connect to {host}: {e.os_error}", True) from None
        except aiohttp.ClientPayloadError:
            raise DownloadFailure("network_error", "truncated body: the connection closed early", True) from None
        except (aiohttp.InvalidURL, ValueError, UnicodeError) as e:
            raise DownloadFailure("invalid_url", f"malformed URL: {e}") from None
        except (aiohttp.ClientError, OSError) as e:
            raise DownloadFailure("network_error", f"{type(e).__name__}: {_cause(e)}", True) from None

    def _check_literal(self, host: str) -> None:
        """Refuse a host that is a refused IP literal early, with a clear reason, before robots.txt (the
        connector judges it again, and every address it connects to, whatever this says)."""
        try:
            refusal = self._literal_refusals[host]
        except KeyError:  # parsing addresses is slow enough to matter per request: judge each host once
            literal = ip_literal(host)
            refusal = self._literal_refusals[host] = None if literal is None else self.policy.refusal(literal)
        if refusal:
            raise DownloadFailure("blocked_address", refusal)

    def _timeout_failure(self, e: Exception) -> DownloadFailure:
        o = self.options
        if isinstance(e, aiohttp.ConnectionTimeoutError):
            message = f"connect timeout after {o.connect_timeout:g} s"
        elif isinstance(e, aiohttp.SocketTimeoutError):
            message = f"read timeout: no data for {o.read_timeout:g} s"
        else:
            message = f"total timeout: the response took more than {o.total_timeout:g} s"
        return DownloadFailure("timeout", message, retryable=True)

    async def _read(self, resp: aiohttp.ClientResponse, max_bytes: int, for_robots: bool):
        status = resp.status
        if status in REDIRECTS:
            location = resp.headers.get("Location")
            if not location:
                raise DownloadFailure("redirect_error", f"HTTP {status} redirect without a Location header")
            return location
        if not 200 <= status < 300:
            raise DownloadFailure("http_error", f"HTTP {status} {resp.reason or ''}".rstrip(),
                                  retryable=status in RETRYABLE_STATUSES,
                                  retry_after=_retry_after(resp.headers.get("Retry-After")))
        if self.options.respect_robots and not for_robots:
            directive = opt_out_directive(resp.headers.getall("X-Robots-Tag", []), ROBOTS_TOKEN,
                                          self.options.opt_out_directives)
            if directive:
                raise DownloadFailure("opted_out", f"X-Robots-Tag: {directive}")
        declared = resp.content_length
        if declared is not None and declared > max_bytes and not for_robots:
            raise DownloadFailure("body_too_large", f"Content-Length {declared} is more than "
                                  f"max_body_bytes={max_bytes}")
        # Counted while reading, whatever Content-Length said (aiohttp stops at it, but a chunked or
        # close-delimited body has none); these are the bytes as sent, still encoded. robots.txt is cut at
        # max_bytes instead (RFC 9309: parse at least the first 500 KiB; a longer file is no reason to allow all).
        body, size = bytearray(), 0
        async for chunk in resp.content.iter_chunked(256 * 1024):
            size += len(chunk)
            if size > max_bytes:
                if for_robots:
                    body += chunk[:max_bytes - len(body)]
                    break
                raise DownloadFailure("body_too_large", f"body is more than max_body_bytes={max_bytes}")
            body += chunk
        encoding = resp.headers.get("Content-Encoding")
        if codings(encoding):  # rare for images; inflating up to max_bytes is CPU work, kept off the loop
            body = await self._off_loop(decode_body, body, encoding, max_bytes, for_robots)
        content_type = resp.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if not for_robots and not content_type.startswith("image/") and not looks_like_image(body):
            raise DownloadFailure("not_an_image", f"Content-Type {content_type or '(none)'} "
                                  "and the body is not an image")
        return Response(str(resp.url), body, content_type)

    # --- robots.txt ------------------------------------------------------------------------------------

    async def _check_robots(self, url: URL) -> None:
        origin = str(url.origin())
        rules = self._robots_rules.get(origin)
        if rules is None:
            task = self._robots.get(origin)
            if task is None:  # one fetch per origin, shared by every request that waits for it
                task = self._robots[origin] = asyncio.ensure_future(self._load_robots(origin))
            rules = self._robots_rules[origin] = await asyncio.shield(task)
        if isinstance(rules, DownloadFailure):  # the host itself is refused or unreachable
            prefix = "" if rules.status == "blocked_address" else "fetching robots.txt: "
            raise DownloadFailure(rules.status, prefix + rules.message)
        # Matching is linear, but a file of wildcard rules against a long path still costs milliseconds.
        text = str(url)
        allowed = await self._off_loop(rules.allows, text) if rules.costly(text) else rules.allows(text)
        if not allowed:
            raise DownloadFailure("robots_disallowed", rules.disallow_all or "robots.txt disallows this path")

    async def _load_robots(self, origin: str) -> RobotsRules | DownloadFailure:
        """The origin's rules (RFC 9309), or the failure that makes the whole host unusable."""
        url = URL(origin + "/robots.txt")
        host = url.host
        try:
            for _ in range(5):  # RFC 9309: follow at least five redirects
                async with self._host_slot(host):  # robots.txt is a request to the host like any other
                    await self._pace(host)
                    result = await self._request(url, host, ROBOTS_MAX_BYTES, for_robots=True)
                if isinstance(result, Response):  # up to 512 KiB of rules: parsed off the event loop
                    return await self._off_loop(parse_robots, result.body.decode("utf-8", "replace"), ROBOTS_TOKEN)
                url = check_url(result, base=url)
                host = url.host
            return RobotsRules()  # too many redirects: RFC 9309 treats it as unavailable (allow)
        except DownloadFailure as failure:
            if failure.status == "http_error" and not failure.retryable or failure.status == "body_too_large":
                return RobotsRules()  # 4xx: no robots.txt, everything allowed
            if failure.status == "http_error":  # 5xx or 429: RFC 9309 says assume a complete disallow
                return RobotsRules(disallow_all=f"robots.txt answered {failure.message}, so the site counts "
                                                "as disallowed (RFC 9309)")
            # A blocked address, a timeout or a dead host: report that, not a robots rule.
            return failure


def _blocked_message(error: BaseException) -> str:
    text = str(error)
    return text.split(BLOCKED_MARK, 1)[1].strip().split("'", 1)[0].rstrip(",) ") if BLOCKED_MARK in text else text


def _cause(e: BaseException) -> str:
    text = str(e) or type(e).__name__
    return text.split("\n", 1)[0]
