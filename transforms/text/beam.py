"""Beam wrapper of the text rules: batches of candidates in, normalised ones out, every drop counted with its
reason."""
from __future__ import annotations

from functools import partial

import apache_beam as beam

from transforms.beam_util import FilterWithReasons

from .core import TextOptions, clean

STAGE = "text"


def _judge_factory(options: TextOptions):
    return partial(clean, options=options)


class CleanText(beam.PTransform):
    """Batches of candidates -> {"kept": batches of normalised candidates, "rejected": batches of rows naming the
    rule that dropped them}."""

    def __init__(self, options: TextOptions = TextOptions(), label: str | None = None):
        super().__init__(label)
        self.options = options

    def expand(self, pcoll):
        return pcoll | FilterWithReasons(STAGE, partial(_judge_factory, self.options), rewrites=True)
