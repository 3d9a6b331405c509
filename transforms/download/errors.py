"""Outcome statuses of one manifest row, and the exception that carries a failure to its Parquet row."""
from __future__ import annotations

SUCCESS = "success"
# Every failure status, with what it means; a row's error_message says the particulars.
FAILURE_STATUSES = {
    "invalid_url": "the URL is empty, malformed or not http(s)",
    "blocked_address": "the host is, or resolves to, a private, loopback, link-local, multicast or metadata address",
    "robots_disallowed": "robots.txt disallows the URL for our user agent",
    "opted_out": "the response carries X-Robots-Tag noai, noimageai, noindex or noimageindex",
    "http_error": "the server answered with a non-2xx status",
    "timeout": "connect, read or total timeout",
    "network_error": "DNS failure, refused or reset connection, truncated body",
    "redirect_error": "too many redirects, a redirect loop or a redirect without a usable Location",
    "body_too_large": "the body is larger than max_body_bytes, as sent or once its Content-Encoding is undone",
    "not_an_image": "the response's Content-Type is not an image",
    "image_too_large": "the image header declares more pixels than max_pixels (a decompression bomb), or resizing "
                       "it would make more than max_output_pixels",
    "unsupported_format": "the bytes are an image format outside image_formats (identified from the bytes)",
    "decode_error": "the bytes are not a decodable image, or the body's Content-Encoding is corrupt or unknown",
    "filtered": "the image is smaller than min_image_size or its aspect ratio exceeds max_aspect_ratio",
    "internal_error": "a bug in the downloader: the message names the exception (please report it)",
}
STATUSES = (SUCCESS, *FAILURE_STATUSES)


class DownloadFailure(Exception):
    """A row failed for a known reason: `status` is one of FAILURE_STATUSES, the message says why."""

    def __init__(self, status: str, message: str, retryable: bool = False, retry_after: float | None = None):
        assert status in FAILURE_STATUSES, status
        super().__init__(message)
        self.status = status
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after
