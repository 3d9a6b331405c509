"""Hostile WARC/WAT inputs: what a stranger can put in a crawl to stall or exhaust a reader. Shared by the crawl
tests and the soak benchmark, so both attack the reader the same way.

Everything is written to a path, gzip member by member as Common Crawl does, and streamed: a record that
inflates to 1 GB is made without ever holding 1 GB.
"""
from __future__ import annotations

import json
import uuid
import zlib
from collections.abc import Iterable, Iterator

PAGE = "http://hostile.example/page.html"
_ZEROS = b"\0" * (1 << 20)


def record_id(n: int) -> str:
    return f"<urn:uuid:{uuid.UUID(int=n)}>"


def _head(headers: dict, length: int) -> bytes:
    lines = "WARC/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return (lines + f"Content-Length: {length}\r\n\r\n").encode()


def member(headers: dict, block: bytes) -> bytes:
    """One WARC record as one gzip member."""
    return gzip_member([_head(headers, len(block)), block, b"\r\n\r\n"])


def gzip_member(parts: Iterable[bytes], level: int = 9) -> bytes:
    """The parts as one gzip member (streamed: parts may be a generator of huge output)."""
    z = zlib.compressobj(level, zlib.DEFLATED, 31)
    out = [z.compress(part) for part in parts]
    out.append(z.flush())
    return b"".join(out)


def padded_member(headers: dict, prefix: bytes, inflated: int, fill: bytes = b" ") -> bytes:
    """A record whose block is `prefix` then `fill` bytes up to `inflated` bytes: a small member (about 4 KB per
    MB inflated; level 1 makes 512 MB in about a second) that a reader holding records whole pays in full."""
    def parts() -> Iterator[bytes]:
        yield _head(headers, inflated)
        yield prefix
        left = inflated - len(prefix)
        chunk = _ZEROS if fill == b"\0" else fill * (1 << 20)
        while left > 0:
            yield chunk[:left]
            left -= len(chunk)
        yield b"\r\n\r\n"
    return gzip_member(parts(), level=1)


def warcinfo() -> bytes:
    return member({"WARC-Type": "warcinfo", "WARC-Record-ID": record_id(0),
                   "Content-Type": "application/warc-fields"}, b"software: hostile\r\n")


# --- WARC (HTML responses) ---

def http_response(body: bytes, content_type: str = "text/html", extra: dict | None = None) -> bytes:
    headers = {"Content-Type": content_type, "Content-Length": str(len(body)), **(extra or {})}
    head = "HTTP/1.1 200 OK\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    return head.encode("latin-1") + body


def response(n: int, body: bytes, url: str = PAGE, content_type: str = "text/html") -> bytes:
    return member({"WARC-Type": "response", "WARC-Record-ID": record_id(n), "WARC-Target-URI": url,
                   "Content-Type": "application/http; msgtype=response"}, http_response(body, content_type))


def metadata_bomb(n: int, concurrent_to: int, inflated: int) -> bytes:
    """A metadata record after a page that inflates to `inflated` bytes (languages-cld2 first, then padding)."""
    fields = b'languages-cld2: {"reliable":true,"languages":[{"code":"xx"}]}\r\n'
    return padded_member({"WARC-Type": "metadata", "WARC-Record-ID": record_id(n),
                          "WARC-Concurrent-To": record_id(concurrent_to), "WARC-Target-URI": PAGE,
                          "Content-Type": "application/warc-fields"}, fields, inflated)


def response_bomb(n: int, inflated: int, url: str = PAGE) -> bytes:
    """An HTML response whose page inflates to `inflated` bytes, starting with one image."""
    page = b'<html><body><img src="/bomb.jpg" alt="bomb">'
    head = (f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {inflated}\r\n\r\n").encode()
    return padded_member({"WARC-Type": "response", "WARC-Record-ID": record_id(n), "WARC-Target-URI": url,
                          "Content-Type": "application/http; msgtype=response"}, head + page, len(head) + inflated)


def write(path, members: Iterable[bytes]) -> str:
    """A file of warcinfo then the given members."""
    with open(path, "wb") as f:
        f.write(warcinfo())
        for m in members:
            f.write(m)
    return str(path)


# --- HTML pages ---

def many_images(n: int, alt: str = "a") -> bytes:
    return ("<html><body>" + "".join(f'<img src="/i{i}.jpg" alt="{alt}{i}">' for i in range(n))).encode()


def nested(n: int, tag: str = "div") -> bytes:
    """`n` nested start tags (never closed) around one image: quadratic in an HTML5 tree builder that walks
    its stack of open elements for every block start tag."""
    return (f"<html><body>{f'<{tag}>' * n}" + '<img src="/deep.jpg" alt="deep">').encode()


def formatting_bomb(n: int) -> bytes:
    """`n` formatting elements with distinct attributes, each followed by a <p>: the tree builder reopens them
    all at every paragraph (quadratic time and memory: 2,000 take 765 MB in lexbor)."""
    return ("<html><body>" + "".join(f"<b id={i}><p>" for i in range(n)) + '<img src="/f.jpg" alt="f">').encode()


def unmatched_end_tags(n: int) -> bytes:
    """`n` open spans then `n` end tags that match nothing: each is looked for down the whole stack."""
    return ("<html><body>" + "<span>" * n + "</x>" * n + '<img src="/u.jpg" alt="u">').encode()


def huge_srcset(n: int) -> bytes:
    srcset = ", ".join(f"/s{i}.jpg {i + 1}w" for i in range(n))
    return f'<html><body><img alt="srcset" srcset="{srcset}">'.encode()


def long_attributes(url_len: int, alt_len: int) -> bytes:
    return (f'<html><body><img src="/{"u" * url_len}.jpg" alt="ok">'
            f'<img src="/a.jpg" alt="{"a" * alt_len}"><img src="/fine.jpg" alt="fine">').encode()


# --- WAT (JSON metadata records) ---

def wat_body(links: list[dict] | str, url: str = PAGE) -> bytes:
    """A WAT record's JSON; `links` a list, or JSON text put in place as it is (for malformed lists)."""
    marker = "__LINKS__"
    data = {"Envelope": {"Format": "WARC",
                         "WARC-Header-Metadata": {"WARC-Type": "response", "WARC-Target-URI": url},
                         "Payload-Metadata": {"HTTP-Response-Metadata": {"HTML-Metadata": {
                             "Head": {"Title": "t"}, "Links": marker if isinstance(links, str) else links}}}}}
    text = json.dumps(data, separators=(",", ":"))
    return text.replace(f'"{marker}"', links).encode() if isinstance(links, str) else text.encode()


def wat_record(n: int, body: bytes, url: str = PAGE) -> bytes:
    return member({"WARC-Type": "metadata", "WARC-Record-ID": record_id(n), "WARC-Target-URI": url,
                   "Content-Type": "application/json"}, body)


def wat_many_links(n: int) -> bytes:
    """JSON of a page with `n` image links, without building `n` dicts."""
    links = ",".join(f'{{"path":"IMG@/src","url":"/i{i}.jpg","alt":"a{i}"}}' for i in range(n))
    return wat_body(f"[{links}]")


def wat_deep_json(depth: int) -> bytes:
    """An image link, then a Links entry nested `depth` lists deep."""
    return wat_body('[{"path":"IMG@/src","url":"/d.jpg","alt":"d"},' + "[" * depth + "]" * depth + "]")


def wat_bomb(n: int, inflated: int, url: str = PAGE) -> bytes:
    """A WAT record with an image link that inflates to `inflated` bytes (JSON padded with spaces)."""
    body = wat_body([{"path": "IMG@/src", "url": "/bomb.jpg", "alt": "bomb"}], url)
    return padded_member({"WARC-Type": "metadata", "WARC-Record-ID": record_id(n), "WARC-Target-URI": url,
                          "Content-Type": "application/json"}, body, inflated)
