"""Word evidence for language identification, from wordfreq's frequency lists.

py3langid scores byte n-grams selected to tell documents apart; a one- to three-word alt text holds few of
them ("Archiv" holds none), so close languages swap on short texts (es/pt, de/en on compounds). wordfreq
(pinned 3.1.1) ships word frequencies of real usage for about 40 languages (Wikipedia, subtitles, news,
books, web text, social media; its lists are CC BY-SA 4.0, used as installed, never copied here). Each word
of a text that a candidate's list holds multiplies that language's likelihood by f(word) / FLOOR, where
FLOOR, the frequency taken for a word a list lacks, is a tenth of the smallest frequency the lists carry
(1e-6): naive Bayes, added to the backend's log-probabilities.
A language without a list (Thai, and many of py3langid's 97) treats every word as missing from it.

Only scripts that separate words with spaces: a text holding Han, kana, Hangul, Thai, Lao, Khmer or Myanmar
characters gets no word evidence. Its words need a segmenter to be split, and the script already tells those
languages apart (py3langid: 0.99 on Chinese).
"""
from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from transforms.language import fit as fit_rules

WORDLIST = "small"  # words of frequency >= 1e-6 in each language: ~10-60k words each
FLOOR = 1e-7
_LIST_NAMES = {"no": "nb"}  # wordfreq names Norwegian by Bokmål's code
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")  # letters, with inner apostrophes ("don't", "l'eau")
_UNSPACED = re.compile("[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff"
                       "\uff66-\uff9f]")


def words_of(text: str) -> list[str]:
    """The words looked up for `text`, as wordfreq spells them (case-folded, one apostrophe); [] for a text in
    a script without spaces between words."""
    if not text or _UNSPACED.search(text):
        return []
    return _WORD.findall(text.casefold().replace("\u2019", "'"))


class WordEvidence:
    """log(f(word) / FLOOR) per candidate language, summed over a text's words.

    The table is keyed by each word's Python hash (64 bits, this process's): sorted hashes and a sparse
    (language, value) list per word, about 15 MB for 29 lists where a dict of the ~950k words took ~300 MB.
    Lookups are vectorised over a batch. Two different words share a hash with probability ~1e-13 per lookup,
    a risk this statistical model can carry."""

    def __init__(self, languages: Sequence[str]):
        import wordfreq

        self.languages = tuple(languages)
        available = set(wordfreq.available_languages(WORDLIST))
        self.covered = tuple(code for code in self.languages if _LIST_NAMES.get(code, code) in available)
        hashes, columns, values = [], [], []
        for column, code in enumerate(self.languages):
            if code not in self.covered:
                continue
            # wordfreq's packed list: bucket i holds the words of frequency 10 ** (-i / 100)
            buckets = wordfreq.get_frequency_list(_LIST_NAMES.get(code, code), WORDLIST)
            # (entries words_of never yields, "000" or "it's" spelt otherwise, stay: unused, and cheaper to keep
            # than to find)
            words = [w for bucket in buckets for w in bucket]
            logf = np.repeat(-np.arange(len(buckets)) / 100 * math.log(10), [len(b) for b in buckets])
            keep = logf > math.log(FLOOR)
            hashes.append(np.fromiter(map(hash, words), dtype=np.int64, count=len(words))[keep])
            values.append((logf[keep] - math.log(FLOOR)).astype(np.float32))
            columns.append(np.full(int(keep.sum()), column, dtype=np.int16))
            del words, buckets
            wordfreq.get_frequency_list.cache_clear()  # its cache would keep every list as Python strings
        all_hashes = np.concatenate(hashes) if hashes else np.zeros(0, dtype=np.int64)
        order = np.argsort(all_hashes, kind="stable")
        self._hashes, starts, counts = np.unique(all_hashes[order], return_index=True, return_counts=True)
        self._starts, self._counts = starts.astype(np.int32), counts.astype(np.int32)
        self._cols = np.concatenate(columns)[order] if columns else np.zeros(0, dtype=np.int16)
        self._vals = np.concatenate(values)[order] if values else np.zeros(0, dtype=np.float32)

    def __len__(self) -> int:
        return len(self._hashes)

    def scores(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(float32 [text, language] sums of log(f / FLOOR), bool [text]: whether any word was known).

        Each text's sums run over its words in order, so a text scores the same in any batch."""
        out, found, _ = self.scores_and_fit(texts, None)
        return out, found

    def scores_and_fit(self, texts: Sequence[str], column: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """scores(texts), and the word part of the fit of the language in `column` (fit.py; float64 [text], zeros
        when column is None): per word log(f / TYPICAL) when its list has the word, FOREIGN when only another
        list has it, UNKNOWN when none has; at most 0 for a word of up to SHORT letters."""
        owners, words = [], []
        for i, text in enumerate(texts):
            found_words = words_of(text)
            words += found_words
            owners += [i] * len(found_words)
        out = np.zeros((len(texts), len(self.languages)), dtype=np.float32)
        found = np.zeros(len(texts), dtype=bool)
        fit = np.zeros(len(texts), dtype=np.float64)
        if not words:
            return out, found, fit
        owners = np.asarray(owners, dtype=np.int64)
        hashes = np.fromiter(map(hash, words), dtype=np.int64, count=len(words))
        at = np.minimum(np.searchsorted(self._hashes, hashes), max(len(self._hashes) - 1, 0))
        known = self._hashes[at] == hashes if len(self._hashes) else np.zeros(len(words), dtype=bool)
        rows, owner_of = at[known], owners[known]
        starts, counts = self._starts[rows], self._counts[rows]
        first = np.cumsum(counts, dtype=np.int64) - counts
        entries = np.arange(counts.sum()) - np.repeat(first - starts, counts)
        np.add.at(out, (np.repeat(owner_of, counts), self._cols[entries]), self._vals[entries])  # word by word
        found[owner_of] = True
        if column is not None:
            per_word = np.where(known, fit_rules.FOREIGN, fit_rules.UNKNOWN)
            own = self._cols[entries] == column  # a word's entry in the column's list (at most one per word)
            word_of_entry = np.repeat(np.flatnonzero(known), counts)
            per_word[word_of_entry[own]] = self._vals[entries[own]] - fit_rules.log_typical(FLOOR)
            short = np.fromiter(map(len, words), dtype=np.int64, count=len(words)) <= fit_rules.SHORT
            per_word[short] = np.minimum(per_word[short], 0.0)
            fit = np.bincount(owners, weights=per_word, minlength=len(texts))  # each text's words in order
        return out, found, fit
