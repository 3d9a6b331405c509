"""Which script a text's letters are mostly written in: a text in a script English never uses is never English.

A language model restricted to a few candidates names one of them for any text; a Hindi (Devanagari) or
Bengali caption, whose bytes fit none of them, could come out as English. English is written in the Latin
alphabet: when most of a text's letters are outside it, the text is not English, whatever the scores say.
Plain Python, a regular expression per text (and nothing at all for an ASCII text).
"""
from __future__ import annotations

import re
import unicodedata

# Latin letters: Basic Latin, Latin-1 and Extended-A/B, IPA extensions and spacing modifier letters (Kabyle's ɣ ɛ,
# Hawaiian's ʻokina), Latin Extended Additional (Vietnamese), -C, -D, -E, and the full-width forms.
_LATIN = ("A-Za-z\u00c0-\u024f\u0250-\u02ff\u1d00-\u1dbf\u1e00-\u1eff\u2c60-\u2c7f\ua720-\ua7ff\uab30-\uab6f"
          "\uff21-\uff3a\uff41-\uff5a")
_LETTER = re.compile(r"[^\W\d_]")
_OTHER_LETTER = re.compile(rf"[^\W\d_{_LATIN}]")
_NAMES = {"CJK": "Han", "HANGUL": "Hangul", "HIRAGANA": "Kana", "KATAKANA": "Kana", "HALFWIDTH": "Kana"}


def foreign_script(text: str) -> str | None:
    """The script (e.g. "Devanagari") that most of the letters of `text` are written in when it is not Latin,
    else None (mostly Latin letters, or no letter at all)."""
    if text.isascii():
        return None
    others = _OTHER_LETTER.findall(text)
    if not others or 2 * len(others) <= len(_LETTER.findall(text)):
        return None
    first = unicodedata.name(others[0], "").split(" ")[0]
    return _NAMES.get(first, first.title() or "unknown")
