"""The English fit: a text that the candidates would call English must also fit English better than the
languages outside the candidates, or it is "und" ("no candidate fits").

Why: restricted to the 30 web languages (options.WEB_LANGUAGES) and weighed by the web's prior (English 44%),
the model names the most probable candidate even for a language it was not asked about; Welsh, Irish, Scots
Gaelic or Frisian alt text came out English 15-50% of the time. wordfreq's English list also holds many foreign
words at low frequencies (web text), and a language without a list gets no word evidence at all, so the words
pushed those texts further to English.

The rule, for a text whose answer is English (after the script rule, script.py):

    fit = NGRAM_WEIGHT * (n-gram score of English - best n-gram score of a language outside the candidates)
                         / sqrt(bytes)                  # py3langid's temperature; its ~140 languages, not the prior
        + sum over the text's words of
              log(f_en(word) / TYPICAL)                 # a word English uses often counts for it, a rare one against
              FOREIGN   when only another candidate's list has the word
              UNKNOWN   when no list has it
              (a word of up to SHORT letters never counts for English: "a", "in", "i", "an" are words of many
               languages)
        + ALLOWANCE
    English when fit > 0, else "und" with the nearest language outside the candidates named in the drop's detail.

TYPICAL is the frequency of an ordinary word of some language: against it, English's frequency of a word says
whether English explains the word better than "some other language" would. The constants were chosen on the
tuning half of tests/fixtures/langid/sentences.jsonl.gz (real sentences in ~200 languages) for English
precision >= 0.99 at recall >= 0.98; the report half measures them (benchmarks/language.py).
"""
from __future__ import annotations

import math

LANGUAGE = "en"  # the language the rule guards (the WIT filter keeps it); other answers are left as they are
TYPICAL = 3e-6
FOREIGN = -5.0
UNKNOWN = -4.0
SHORT = 2
NGRAM_WEIGHT = 3.0
ALLOWANCE = 7.5
IGNORED_OUTSIDERS = ("zxx",)  # py3langid's "no linguistic content" class is no language


def log_typical(floor: float) -> float:
    """log(TYPICAL / floor): what turns a word-list value log(f / floor) into log(f / TYPICAL)."""
    return math.log(TYPICAL / floor)
