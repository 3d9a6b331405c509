"""Beam wrapper of language identification: adds `language` and `language_confidence`, keeps the wanted ones.

Batches of candidates in (transforms.beam_util): each goes to the identifier in slices of BATCH texts, so the
fast backend scores a slice with a few NumPy calls; its answers do not depend on how texts are sliced. A drop
is counted (wit.language/dropped.language) and becomes a rejected row whose detail names the language found,
e.g. "de (0.98)", and for an UND answer the backend's note: "und (0.00): script Devanagari, not en",
"und (0.00): no candidate fits (en 0.97 among the candidates; nearest outside them: cy)".
"""
from __future__ import annotations

import apache_beam as beam
from apache_beam.utils import shared

from transforms.beam_util import REJECTED, StageCounters, as_batches, split_outputs
from transforms.candidate import rejected
from transforms.language.base import BATCH
from transforms.language.options import LanguageOptions
from transforms.language.registry import make_identifier

STAGE = "language"


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
        self.counters = StageCounters(STAGE)

    def process(self, batch):
        kept, dropped = [], []
        verdict_of = self.options.verdict
        for start in range(0, len(batch), BATCH):
            rows = batch[start:start + BATCH]
            found = self.identifier.explain_many([row["text"] for row in rows])
            for row, (language, confidence, note) in zip(rows, found):
                confidence = round(confidence, 4)
                verdict = verdict_of(language, confidence, note or "")
                if verdict is None:
                    kept.append({**row, "language": language, "language_confidence": confidence})
                else:
                    dropped.append(rejected(row, STAGE, *verdict))
        self.counters.batch(len(batch), len(kept), dropped)
        yield from split_outputs(kept, dropped)


class IdentifyLanguage(beam.PTransform):
    """Batches of candidates -> batches of candidates with `language` (ISO 639-1 or "und") and
    `language_confidence`: `.kept` holds the languages in `options.keep` (every element when keep is "all"),
    `.rejected` batches of rows for the others, with reason "language"."""

    def __init__(self, options: LanguageOptions | None = None, label: str | None = None):
        super().__init__(label)
        self.options = options or LanguageOptions()

    def expand(self, pcoll):
        return as_batches(pcoll | "Identify" >> beam.ParDo(_Identify(self.options)).with_outputs(REJECTED, main="kept"))
