"""Beam wrapper of language identification: adds `language` and `language_confidence`, keeps the wanted ones.

Texts go to the identifier in batches (BatchElements), so the fast backend scores a batch with a few NumPy
calls; its answers do not depend on how a runner batches them. Drops go through FilterWithReasons: counter
wit.language/dropped.language and a rejected row whose detail names the language found, e.g. "de (0.98)", and
for an UND answer the backend's note: "und (0.00): script Devanagari, not en", "und (0.00): no candidate fits
(en 0.97 among the candidates; nearest outside them: cy)". The note travels to the filter in NOTE, a field
the filter removes from what it keeps.
"""
from __future__ import annotations

from functools import partial

import apache_beam as beam
from apache_beam.utils import shared

from transforms.beam_util import FilterWithReasons
from transforms.language.base import BATCH
from transforms.language.options import LanguageOptions
from transforms.language.registry import make_identifier

STAGE = "language"
NOTE = "_language_note"  # the backend's note on an UND answer, from _Identify to the filter only


class _Identify(beam.DoFn):
    def __init__(self, options: LanguageOptions):
        self.options = options
        self._shared = shared.Shared()  # pickled as a key: one model per worker process, for all its threads

    def setup(self):
        # The model and word lists (~110 MB, and 42 MB more for the English fit's outsider columns; ~3 s to load)
        # are built once per worker process and shared by its threads (read-only once built), never pickled with
        # the DoFn.
        o = self.options
        self.identifier = self._shared.acquire(
            lambda: make_identifier(o.backend, o.candidates, o.prior_map, words=o.use_words, fit=o.use_fit),
            tag=repr(o))

    def process(self, batch):
        found = self.identifier.explain_many([element["text"] for element in batch])
        for element, (language, confidence, note) in zip(batch, found):
            out = {**element, "language": language, "language_confidence": round(confidence, 4)}
            if note:
                out[NOTE] = note
            yield out


def _judge(options: LanguageOptions, element: dict):
    """(element kept, None) or (None, (reason, detail)); the kept element without NOTE."""
    note = element.get(NOTE, "")
    verdict = options.verdict(element["language"], element["language_confidence"], note)
    if verdict is not None:
        return None, verdict
    return ({k: v for k, v in element.items() if k != NOTE} if NOTE in element else element), None


def _judge_factory(options: LanguageOptions):
    return partial(_judge, options)


class IdentifyLanguage(beam.PTransform):
    """Candidates -> candidates with `language` (ISO 639-1 or "und") and `language_confidence`.

    The result is FilterWithReasons' DoOutputsTuple: `.kept` holds the languages in `options.keep` (every
    element when keep is "all"), `.rejected` the others with reason "language".
    """

    def __init__(self, options: LanguageOptions | None = None, label: str | None = None):
        super().__init__(label)
        self.options = options or LanguageOptions()

    def expand(self, pcoll):
        return (pcoll
                | "Batch" >> beam.BatchElements(min_batch_size=BATCH, max_batch_size=BATCH)
                | "Identify" >> beam.ParDo(_Identify(self.options))
                | "Filter" >> FilterWithReasons(STAGE, partial(_judge_factory, self.options), rewrites=True))
