"""The one interface every language identification backend implements. Plain Python: no Beam here."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

UND = "und"  # ISO 639 "undetermined": empty text, or nothing the model recognises
BATCH = 256  # texts per detect_many call in the pipeline: past this, NumPy's fixed cost per call is noise


class LanguageIdentifier(ABC):
    """Tells the language of a text as an ISO 639-1 code with a confidence in [0, 1].

    Both calls are deterministic and give the same answer for a text whatever batch it comes in.
    `languages` is the candidate set the backend chooses among.
    """

    name: str = ""
    languages: tuple[str, ...] = ()

    def detect(self, text: str) -> tuple[str, float]:
        return self.detect_many([text])[0]

    @abstractmethod
    def detect_many(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """One (code, confidence) per text, in order; (UND, 0.0) for empty or whitespace-only text."""

    def explain_many(self, texts: Sequence[str]) -> list[tuple[str, float, str]]:
        """detect_many with a note per text: why a text with letters is UND (e.g. "script Devanagari, not en",
        "no candidate fits (...)"), else ""."""
        return [(code, confidence, "") for code, confidence in self.detect_many(texts)]


def is_blank(text: str | None) -> bool:
    return text is None or not text.strip()
