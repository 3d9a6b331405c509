"""Text and URL rules for alt-text candidates: repair and normalise the text, then drop what is not a caption.

Each rule returns a reason code (and a detail) so every drop is counted and explained:
- url: `bad_url_scheme` (not http/https, data: URIs), `url_too_long`, `bad_url` (no host, unparsable);
- text: `empty_text`, `text_too_short`, `text_too_long`, `filename_text` ("IMG_1234.jpg", "DSC01234"),
  `url_text`, `number_text` (only digits and punctuation), `placeholder_text` ("image", "logo", ...).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from ..flag import opt
from urllib.parse import urlsplit

import ftfy

from transforms.candidate import make_uid

# Alt texts that name no content: what CMSs and page builders put in when nobody wrote a caption.
PLACEHOLDERS = frozenset(
    "image, images, img, picture, pictures, pic, photo, photos, photograph, logo, icon, banner, thumbnail, "
    "thumb, avatar, placeholder, spacer, blank, untitled, default, null, none, undefined, alt, alt text, "
    "graphic, button, click here, loading, spinner, pixel, transparent, shim, image description, no image, "
    "no photo, image not found, featured image, header image, profile picture".split(", "))
_IMAGE_EXT = r"(?:jpe?g|png|gif|webp|bmp|svg|tiff?|heic|avif|ico)"
_FILENAME = re.compile(rf"^[\w\-. ()\[\]~+]+\.{_IMAGE_EXT}$", re.IGNORECASE)
# Camera and phone file names without an extension: IMG_1234, DSC01234, DSCN0042, P1010001, PXL_20230101_...
_CAMERA = re.compile(r"^(?:IMG|DSC[NF]?|PIC|PXL|MVIMG|VID|P\d{3}|SAM|GOPR|DJI|Screenshot|Screen Shot|image)"
                     r"[\s_\-]*\d[\d_\-\s.:]*$", re.IGNORECASE)
_URL_TEXT = re.compile(r"^(?:[a-z][a-z0-9+.\-]*://|www\.)\S+$", re.IGNORECASE)
_NUMBER = re.compile(r"^[\d\W_]+$")
_SPACES = re.compile(r"\s+")
# A character ftfy could act on: anything beyond printable ASCII (mojibake, controls, line breaks, widths,
# ligatures) or "&" (HTML entities). A text without one comes out of ftfy unchanged, so it skips the call
# (~28 us a text; 90% of LAION-style alt texts): tests hold the shortcut to ftfy's answer.
_FTFY_MAY_CHANGE = re.compile(r"[^\x20-\x25\x27-\x7e]")


@dataclass(frozen=True)
class TextOptions:
    """The text and URL rules (see the module docstring for every drop reason)."""

    min_chars: int = opt(2, "drop alt texts shorter than this many characters", flag="min-text-chars")
    max_chars: int = opt(1000, "drop alt texts longer than this many characters", flag="max-text-chars")
    min_words: int = opt(1, "drop alt texts of fewer words", flag="min-text-words")
    max_url_chars: int = opt(2048, "drop image URLs longer than this many characters")
    fix_mojibake: bool = opt(True, "repair mojibake with ftfy (off: Unicode NFC only)")


def normalise(text: str, fix_mojibake: bool = True) -> str:
    """Mojibake repaired (ftfy), Unicode NFC, every run of whitespace (incl. NBSP, newlines) one space."""
    if fix_mojibake:
        if _FTFY_MAY_CHANGE.search(text) is not None:
            text = ftfy.fix_text(text, normalization="NFC")
    else:
        text = unicodedata.normalize("NFC", text)
    return _SPACES.sub(" ", text).strip()


def url_rejection(url, options: TextOptions) -> tuple[str, str] | None:
    if not isinstance(url, str) or not url:
        return "bad_url", "no URL"
    if len(url) > options.max_url_chars:
        return "url_too_long", f"{len(url)} characters > {options.max_url_chars}"
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme not in ("http", "https"):
        return "bad_url_scheme", f"scheme {scheme or '(none)'}"
    try:
        if not urlsplit(url).hostname:
            return "bad_url", "no host"
    except ValueError as e:
        return "bad_url", str(e)
    return None


def text_rejection(text: str, options: TextOptions) -> tuple[str, str | None] | None:
    """Why a normalised alt text is not a caption, or None."""
    if not text:
        return "empty_text", None
    if len(text) < options.min_chars:
        return "text_too_short", f"{len(text)} characters < {options.min_chars}"
    if len(text) > options.max_chars:
        return "text_too_long", f"{len(text)} characters > {options.max_chars}"
    if len(text.split()) < options.min_words:
        return "text_too_short", f"fewer than {options.min_words} words"
    if _FILENAME.match(text) or _CAMERA.match(text):
        return "filename_text", None
    if _URL_TEXT.match(text):
        return "url_text", None
    if _NUMBER.match(text):
        return "number_text", None
    if text.lower().strip(" .:-_") in PLACEHOLDERS:
        return "placeholder_text", None
    return None


def clean(element: dict, options: TextOptions) -> tuple[dict | None, tuple[str, str | None] | None]:
    """(the candidate with its text normalised, None) or (None, (reason, detail)).

    The uid is recomputed from the normalised text, so pairs that differ only in whitespace or mojibake
    become one pair for dedup; `raw_uid` keeps the crawled one for joining back to the candidates."""
    verdict = url_rejection(element.get("url"), options)
    if verdict:
        return None, verdict
    raw = element.get("text")
    text = normalise(raw, options.fix_mojibake) if isinstance(raw, str) else ""
    verdict = text_rejection(text, options)
    if verdict:
        return None, verdict
    return {**element, "text": text, "uid": make_uid(element["url"], text), "raw_uid": element.get("uid")}, None
