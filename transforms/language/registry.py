"""Backends by name. Each backend module is imported only when asked for, so an unused one costs nothing."""
from __future__ import annotations

import importlib

from transforms.language.base import LanguageIdentifier

# name -> "module:class"
BACKENDS = {
    "py3langid": "transforms.language.backend_py3langid:Py3LangidIdentifier",
    "langdetect": "transforms.language.backend_langdetect:LangdetectIdentifier",
}
WORD_BACKENDS = ("py3langid",)  # those that can add wordfreq's word evidence (a class with supports_words)
FIT_BACKENDS = ("py3langid",)  # those that can check an English answer's fit (fit.py; with word evidence)
OTHER_SHARE = 0.05  # percent of web pages: the prior share of a candidate language that a prior does not list


def make_identifier(backend: str, languages: tuple[str, ...] | None = None,
                    prior: dict[str, float] | None = None, words: bool = False,
                    fit: bool = False) -> LanguageIdentifier:
    """A ready identifier choosing among `languages` (ISO 639-1 codes; None = all the backend knows), weighing
    them by `prior` (relative shares; languages it lacks get OTHER_SHARE) instead of the backend's own;
    `words`: add wordfreq's word evidence (words.py; backends with `supports_words` only);
    `fit`: an English answer must be in the Latin script and fit English better than the languages outside
    the candidates, else UND (script.py, fit.py; FIT_BACKENDS, with `words`).

    Loading a model takes about a second (the word lists about two more): build one per process (a Beam DoFn
    does it in setup).
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown language backend {backend!r}; one of {', '.join(BACKENDS)}")
    module, name = BACKENDS[backend].split(":")
    cls = getattr(importlib.import_module(module), name)
    if fit and (backend not in FIT_BACKENDS or not words):
        raise ValueError(f"the English fit is implemented for {', '.join(FIT_BACKENDS)} with word evidence, "
                         f"not {backend}{'' if words else ' without words'}")
    if not words:
        return cls(languages, prior)
    if backend not in WORD_BACKENDS or not getattr(cls, "supports_words", False):
        raise ValueError(f"word evidence is implemented for py3langid only, not {backend}")
    return cls(languages, prior, words=True, fit=True) if fit else cls(languages, prior, words=True)


def prior_shares(prior: dict[str, float], languages: tuple[str, ...]) -> dict[str, float]:
    """Each candidate's prior probability: its share normalised over the candidates."""
    shares = {code: float(prior.get(code, OTHER_SHARE)) for code in languages}
    if any(v <= 0 for v in shares.values()):
        raise ValueError("prior shares must be positive")
    total = sum(shares.values())
    return {code: v / total for code, v in shares.items()}


def check_languages(requested: tuple[str, ...] | None, known: list[str], backend: str) -> list[str]:
    """The requested codes (all known ones when None), refusing codes the backend cannot output."""
    if requested is None:
        return sorted(set(known))
    unknown = sorted(set(requested) - set(known))
    if unknown:
        raise ValueError(f"{backend} does not know language(s) {', '.join(unknown)}")
    if len(set(requested)) < 2:  # one candidate would label every text with it
        raise ValueError(f"at least two candidate languages are needed, not {sorted(set(requested))}")
    return sorted(set(requested))
