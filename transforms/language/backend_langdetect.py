"""langdetect, a port of Google's language-detection: the reference peer (accurate, but far slower).

It samples n-grams at random, so a fixed seed makes it deterministic; the seed is set on this backend's own
factory rather than on the global `DetectorFactory.seed`, so other langdetect users are left alone.
"""
from __future__ import annotations

import os
from collections.abc import Sequence

from langdetect import DetectorFactory
from langdetect.detector_factory import PROFILES_DIRECTORY
from langdetect.lang_detect_exception import LangDetectException

from transforms.language.base import UND, LanguageIdentifier, is_blank
from transforms.language.registry import check_languages, prior_shares

_ISO639_1 = {"zh-cn": "zh", "zh-tw": "zh"}  # its only profile names that are not ISO 639-1 codes


class LangdetectIdentifier(LanguageIdentifier):
    name = "langdetect"

    def __init__(self, languages: tuple[str, ...] | None = None, prior: dict[str, float] | None = None):
        profiles: dict[str, list[str]] = {}
        for filename in sorted(os.listdir(PROFILES_DIRECTORY)):
            profiles.setdefault(_ISO639_1.get(filename, filename), []).append(filename)
        self.languages = tuple(check_languages(languages, list(profiles), self.name))
        self._factory = DetectorFactory()
        self._factory.seed = 0
        texts = []
        for code in self.languages:  # only the candidates' profiles: that is how langdetect restricts
            for filename in profiles[code]:
                with open(os.path.join(PROFILES_DIRECTORY, filename), encoding="utf-8") as f:
                    texts.append(f.read())
        self._factory.load_json_profile(texts)
        self._prior = None
        if prior:  # langdetect's own prior map, over its profile names (zh's share split between zh-cn and zh-tw)
            shares = prior_shares(prior, self.languages)
            self._prior = {name: shares[code] / len(profiles[code]) for code in self.languages
                           for name in profiles[code]}

    def detect_many(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        return [self._detect_one(text) for text in texts]

    def _detect_one(self, text: str) -> tuple[str, float]:
        if is_blank(text):
            return UND, 0.0
        detector = self._factory.create()
        if self._prior:
            detector.set_prior_map(self._prior)
        detector.append(text)
        try:
            found = detector.get_probabilities()
        except LangDetectException:  # no letter it knows
            return UND, 0.0
        merged: dict[str, float] = {}
        for language in found:  # zh-cn and zh-tw are both zh
            code = _ISO639_1.get(language.lang, language.lang)
            merged[code] = merged.get(code, 0.0) + language.prob
        if not merged:
            return UND, 0.0
        code = min(merged, key=lambda c: (-merged[c], c))  # ties broken by code, for determinism
        return code, min(1.0, merged[code])
