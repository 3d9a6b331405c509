"""Options of the language stage and its keep/drop rule (plain Python, shared by the Beam wrapper and tests)."""
from __future__ import annotations

from dataclasses import dataclass

from transforms.flag import opt
from transforms.language.registry import BACKENDS, FIT_BACKENDS, WORD_BACKENDS

# Chosen by benchmarks/language.py for accuracy and speed on one core (its figures are in the README);
# langdetect is the slow reference peer.
DEFAULT_BACKEND = "py3langid"

# About the 30 languages with the most pages in Common Crawl's language statistics: the realistic candidate
# set for web alt text. Restricting the model to it removes rare look-alikes that win on very short texts
# (Galician for Spanish, Latin, Luxembourgish); the benchmark reports this set, the data set's 6 and all.
WEB_LANGUAGES = ("en", "ru", "de", "zh", "ja", "es", "fr", "it", "pt", "nl", "pl", "cs", "vi", "id", "tr",
                 "sv", "fa", "ko", "ar", "hu", "el", "ro", "da", "uk", "fi", "sk", "th", "no", "bg", "he")
# The same languages' approximate shares of Common Crawl's pages, in percent (cc-crawl-statistics, 2023-2024
# crawls, rounded): the prior P(language) of a web text. The backends' own priors come from their training
# corpora, near uniform, which on a 10-character alt text lets a rare language win over a common one; Bayes
# with the web's prior raises accuracy on short texts (benchmarks/language.py).
WEB_PRIOR = {"en": 44, "ru": 6, "de": 5.5, "zh": 5, "ja": 5, "es": 4.6, "fr": 4.4, "it": 2.5, "pt": 2.1, "nl": 1.9,
             "pl": 1.8, "cs": 1.0, "vi": 1.0, "id": 1.0, "tr": 0.9, "sv": 0.7, "fa": 0.7, "ko": 0.7, "ar": 0.6,
             "hu": 0.6, "el": 0.5, "ro": 0.5, "da": 0.4, "uk": 0.6, "fi": 0.4, "sk": 0.3, "th": 0.4, "no": 0.3,
             "bg": 0.3, "he": 0.2}
# A candidate language outside that list gets registry.OTHER_SHARE.
PRIORS = ("web", "none")
WORDS = ("auto", "on", "off")  # auto: on for a backend that supports word evidence (py3langid)
FITS = ("auto", "on", "off")  # auto: on for a backend that can check the English fit, with word evidence on
ALL = "all"
REASON = "language"  # the drop reason in counters and rejected/


@dataclass(frozen=True)
class LanguageOptions:
    """Which backend identifies the language, among which candidates, and which languages are kept.

    keep: the ISO 639-1 codes kept, or "all" to annotate without filtering (default: English, as WIT).
    min_confidence: a kept language below this confidence is dropped too (0 = no threshold; short alt texts
      get low confidences even when right, so a threshold mostly costs recall).
    restrict: the candidate languages the model chooses among (None = every language the backend knows);
      the kept languages are always candidates.
    prior: "web" weighs each candidate by its share of web pages (WEB_PRIOR), "none" keeps the backend's own.
    words: add wordfreq's word frequencies to the backend's n-gram evidence (words.py): "auto" (on where the
      backend supports it: py3langid), "on" or "off"; it raises accuracy on short texts (benchmarks/language.py).
    fit: an English answer must hold up, else the text is "und" and the drop's detail says why: a text whose
      letters are mostly in a script English is not written in is never English (script.py), and a text that
      fits a language outside the candidates better than English is not forced into English (fit.py). "auto"
      (on where the backend supports it: py3langid with words), "on" or "off". On real sentences in 196
      languages (tests/fixtures/langid) it takes English precision from 0.89 to 0.996 at recall 0.989 (0.992
      without it); on gettext_600 it costs one English UI string in 100 (benchmarks/language.py).
    """

    backend: str = opt(DEFAULT_BACKEND, "language identifier", flag="language-backend", choices=BACKENDS)
    keep: tuple[str, ...] | str = opt(("en",), "languages kept, comma-separated ISO 639-1 codes, or 'all' to "
                                      "annotate without filtering", flag="languages", parse=lambda s: _keep(s),
                                      shown="en")
    min_confidence: float = opt(0.0, "a kept language below this confidence is dropped too (0: no threshold)",
                                flag="language-min-confidence")
    restrict: tuple[str, ...] | None = opt(WEB_LANGUAGES, "the languages the model chooses among: 'web' (the 30 "
                                           "with most web pages), 'all' the backend knows, or codes",
                                           flag="language-restrict", parse=lambda s: _restrict(s), shown="web")
    prior: str = opt("web", "weigh candidate languages by their share of web pages, or keep the model's own "
                     "prior", flag="language-prior", choices=PRIORS)
    words: str = opt("auto", "add wordfreq's word frequencies to the model's n-grams (auto: on for py3langid)",
                     flag="language-words", choices=WORDS)
    fit: str = opt("auto", "rule English out for a text in a script English is not written in, or that a "
                   "language outside the candidates fits better ('und'; auto: on for py3langid with words)",
                   flag="language-fit", choices=FITS)

    def __post_init__(self):
        if self.prior not in PRIORS:
            raise ValueError(f"prior must be one of {', '.join(PRIORS)}, not {self.prior!r}")
        if self.words not in WORDS:
            raise ValueError(f"words must be one of {', '.join(WORDS)}, not {self.words!r}")
        if self.fit not in FITS:
            raise ValueError(f"fit must be one of {', '.join(FITS)}, not {self.fit!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {self.backend!r}")
        if self.keep != ALL:
            if isinstance(self.keep, str) or not self.keep:
                raise ValueError(f"keep must be {ALL!r} or a non-empty tuple of language codes, not {self.keep!r}")
            object.__setattr__(self, "keep", tuple(self.keep))
        if self.restrict is not None:
            object.__setattr__(self, "restrict", tuple(self.restrict))
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be in [0, 1], not {self.min_confidence}")

    @classmethod
    def from_strings(cls, backend: str = DEFAULT_BACKEND, keep: str = "en", min_confidence: float = 0.0,
                     restrict: str = "web", prior: str = "web", words: str = "auto",
                     fit: str = "auto") -> LanguageOptions:
        """From command-line values: keep "en,de" or "all"; restrict "web", "all" or "en,de,fr"."""
        return cls(backend, _keep(keep), min_confidence, _restrict(restrict), prior, words, fit)

    @property
    def candidates(self) -> tuple[str, ...] | None:
        """The set handed to the backend: the restriction plus the kept languages, sorted."""
        if self.restrict is None:
            return None
        return tuple(sorted(set(self.restrict) | (set() if self.keep == ALL else set(self.keep))))

    @property
    def prior_map(self) -> dict[str, float] | None:
        """The prior handed to the backend (shares in percent; it normalises over its candidates), or None."""
        return dict(WEB_PRIOR) if self.prior == "web" else None

    @property
    def use_words(self) -> bool:
        """Whether the backend adds word evidence ("auto": where it supports it)."""
        if self.words == "auto":
            return self.backend in WORD_BACKENDS
        return self.words == "on"

    @property
    def use_fit(self) -> bool:
        """Whether the backend checks an English answer's script and fit ("auto": where it can, with words)."""
        if self.fit == "auto":
            return self.backend in FIT_BACKENDS and self.use_words
        return self.fit == "on"

    def verdict(self, language: str, confidence: float, note: str = "") -> tuple[str, str] | None:
        """None to keep; (REASON, detail) to drop, the detail naming the language found, e.g. "de (0.98)", and
        the backend's note on an UND answer, e.g. "und (0.00): script Devanagari, not en"."""
        if self.keep == ALL:
            return None
        detail = f"{language} ({confidence:.2f})" + (f": {note}" if note else "")
        if language not in self.keep:
            return REASON, detail
        if confidence < self.min_confidence:
            return REASON, f"{detail} below min_confidence {self.min_confidence:.2f}"
        return None


def _keep(value: str) -> tuple[str, ...] | str:
    return ALL if value == ALL else _codes(value)


def _restrict(value: str) -> tuple[str, ...] | None:
    if value == "web":
        return WEB_LANGUAGES
    return None if value == ALL else _codes(value)


def _codes(value: str) -> tuple[str, ...]:
    codes = tuple(code.strip() for code in value.split(",") if code.strip())
    if not codes:
        raise ValueError(f"expected comma-separated language codes, got {value!r}")
    return codes
