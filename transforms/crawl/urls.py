"""Image URLs as a browser would fetch them: resolved against the page (or its <base href>), http(s) only,
and the best candidate of a srcset. Shared by the WAT and WARC readers so both give the same pairs."""
from __future__ import annotations

from urllib.parse import urljoin, urlsplit

_HTTP = ("http://", "https://")
# The URL parser of the HTML standard drops these anywhere in a URL (and strips C0 controls and spaces at
# both ends); Python's urljoin drops tab/CR/LF too, but only when it is called.
_TAB_NEWLINE = str.maketrans("", "", "\t\n\r")
_STRIP = "".join(chr(c) for c in range(0x21))
MAX_SRCSET = 1 << 16  # characters of a srcset read: real ones hold a few candidates; this bounds the parse


def absolute_url(url: str | None, base: str | None) -> str | None:
    """`url` made absolute against `base`; None unless the result is an http(s) URL with a host."""
    if not url:
        return None
    url = url.strip(_STRIP)
    if "\t" in url or "\n" in url or "\r" in url:
        url = url.translate(_TAB_NEWLINE)
    if url.startswith(_HTTP):  # the common case: already absolute, no urljoin needed
        return url if _has_host(url) else None
    if url[:8].lower().startswith(_HTTP):  # HTTP://X: schemes are case-insensitive; keep one spelling
        colon = url.index(":")
        url = url[:colon].lower() + url[colon:]
        return url if _has_host(url) else None
    if not url or not base:
        return None
    if url[0] == "/" and "/." not in url and "\\" not in url and base.startswith(_HTTP):
        # Fast paths for "/path" and "//host/path" (urljoin is ~10x slower); dot segments and backslashes
        # take the general way.
        if url.startswith("//"):
            url = base[:base.index(":") + 1] + url
            return url if _has_host(url) else None
        return _origin(base) + url
    try:
        joined = urljoin(base, url)
    except ValueError:  # e.g. an invalid IPv6 literal in the URL or the base
        return None
    return joined if joined.startswith(_HTTP) and _has_host(joined) else None


def _origin(url: str) -> str:
    """scheme://host[:port] of an absolute http(s) URL."""
    start = url.index("://") + 3
    end = len(url)
    for c in "/?#":
        i = url.find(c, start)
        if 0 <= i < end:
            end = i
    return url[:end]


def _has_host(url: str) -> bool:
    rest = url[url.index("://") + 3:]
    if not rest or rest[0] in "/?#":
        return False
    if "[" in rest:  # an IPv6 literal: rare, so only then the full (slower) check
        try:
            urlsplit(url).hostname
        except ValueError:
            return False
    return True


def srcset_candidates(srcset: str) -> list[tuple[str, float, str]]:
    """(url, size, unit) of each image candidate of a srcset, by the HTML standard's parsing rules.

    unit is "w" (a width) or "x" (a pixel density; 1x when no descriptor is given). Candidates with an
    invalid descriptor are skipped, as browsers do.
    """
    out = []
    pos, n = 0, len(srcset)
    while pos < n:
        # Skip whitespace and commas, then collect a URL: a run of non-whitespace characters.
        while pos < n and (srcset[pos] in ", " or srcset[pos].isspace()):
            pos += 1
        if pos >= n:
            break
        start = pos
        while pos < n and not srcset[pos].isspace():
            pos += 1
        url = srcset[start:pos]
        descriptors = ""
        if url.endswith(","):
            url = url.rstrip(",")  # "a.jpg," has no descriptor
        else:
            # Descriptors run to the next comma outside parentheses.
            start, depth = pos, 0
            while pos < n:
                c = srcset[pos]
                if c == "(":
                    depth += 1
                elif c == ")":
                    depth = max(0, depth - 1)
                elif c == "," and depth == 0:
                    break
                pos += 1
            descriptors = srcset[start:pos].strip()
            pos += 1
        if not url:
            continue
        parsed = _descriptor(descriptors)
        if parsed is not None:
            out.append((url, *parsed))
    return out


def _descriptor(text: str) -> tuple[float, str] | None:
    size, unit = 1.0, "x"
    seen = False
    for token in text.split():
        if token.endswith(("w", "x")) and not seen:
            try:
                value = float(token[:-1]) if token[-1] == "x" else int(token[:-1])
            except ValueError:
                return None
            if value <= 0:
                return None
            size, unit, seen = float(value), token[-1], True
        elif token.endswith("h"):  # a height hint, allowed beside a width; it does not rank candidates
            continue
        else:
            return None
    return size, unit


def best_srcset_url(srcset: str | None, base: str | None) -> str | None:
    """The absolute http(s) URL of a srcset's largest candidate (widths rank above densities)."""
    if not srcset:
        return None
    if len(srcset) > MAX_SRCSET:  # the candidates that fit whole
        srcset = srcset[:srcset.rfind(",", 0, MAX_SRCSET) + 1]
    best, best_key = None, None
    for url, size, unit in srcset_candidates(srcset):
        absolute = absolute_url(url, base)
        if absolute is None:
            continue
        key = (unit == "w", size)
        if best_key is None or key > best_key:
            best, best_key = absolute, key
    return best
