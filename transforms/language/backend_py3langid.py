"""py3langid's model (langid.py's byte n-gram naive Bayes, shipped inside its wheel), run a batch at a time.

py3langid classifies one text at a time: a Python walk of its n-gram automaton, then half a dozen NumPy calls
whose fixed cost dominates on short alt texts. Here a batch walks the automaton for all its texts together
(one NumPy step per byte position) and is scored with a few NumPy calls over the whole batch, several times
faster; batches smaller than SMALL_BATCH walk each text in Python instead. Both walks give the same n-grams
and one function scores them, so a text gets the same answer whatever batch it is in.

The decision is py3langid's (argmax of the naive Bayes score over the candidates; with a prior, its class
prior replaced by the log of the given shares); the confidence is its normalised probability (softmax with temperature sqrt(bytes)). Where this differs from py3langid: a text with
no known n-gram is UND (py3langid names the first language), only ISO 639-1 labels are offered (its 3-letter
labels and "zxx" are left out), and a text is cut to MAX_BYTES.

With `words=True` (the pipeline's default), wordfreq's word frequencies are added to the n-gram evidence
(words.py): naive Bayes over both, then normalised again. A text with no known n-gram but a known word then
gets a language from its words and the prior.

With `fit=True` (the pipeline's default; needs `words`), an English answer must also pass two checks, else the
text is UND with a note saying why (explain_many): its letters are mostly Latin (script.py), and it fits English
better than the languages outside the candidates (fit.py: the model's other languages score the n-grams of
the texts answered English, and their words are weighed against an ordinary word's frequency).
"""
from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import numpy as np
from py3langid import langid as _langid

from transforms.language import fit as fit_rules
from transforms.language.base import UND, LanguageIdentifier, is_blank
from transforms.language.registry import check_languages, prior_shares
from transforms.language.script import foreign_script

MAX_BYTES = 1024  # plenty to tell a language; bounds the batch walk, which takes one step per byte of the longest
SMALL_BATCH = 32  # below this many texts, the per-text Python walk costs less than the NumPy steps


def _encode(text: str) -> bytes:
    if text.isupper():  # as py3langid: an all-capitals text is read in lower case
        text = text.lower()
    return unicodedata.normalize("NFC", text).encode("utf-8", "surrogatepass")[:MAX_BYTES]


class Py3LangidIdentifier(LanguageIdentifier):
    name = "py3langid"
    supports_words = True

    def __init__(self, languages: tuple[str, ...] | None = None, prior: dict[str, float] | None = None,
                 words: bool = False, fit: bool = False):
        model = _langid.LanguageIdentifier.from_model_file(_langid.MODEL_FILE)
        classes = list(model.nb_classes)
        self.languages = tuple(check_languages(languages, [c for c in classes if len(c) == 2], self.name))
        columns = [i for i, c in enumerate(classes) if c in self.languages]
        self._ptc = np.ascontiguousarray(model.nb_ptc[:, columns], dtype=np.float32)  # n-gram x column log-probs
        self._pc = np.asarray(model.nb_pc[columns], dtype=np.float32)
        # A language may have several columns (Serbian in two scripts): their probabilities are added, column
        # by column (elementwise, so exact: a matrix product could round differently with the batch's shape).
        first: dict[str, int] = {}
        self._folds = []  # (column kept, column added to it)
        for j, i in enumerate(columns):
            if classes[i] in first:
                self._folds.append((first[classes[i]], j))
            else:
                first[classes[i]] = j
        self._label_columns = [first[code] for code in self.languages]
        if prior:  # log P(language) replaces the training corpus's class prior (split among a language's columns)
            shares = prior_shares(prior, self.languages)
            per_column = {c: sum(1 for i in columns if classes[i] == c) for c in self.languages}
            self._pc = np.log(np.asarray([shares[classes[i]] / per_column[classes[i]] for i in columns],
                                         dtype=np.float32))
        # The automaton: next state = nextmove[rowbase[state] + byte]; output[state] = n-gram id or -1.
        self._nextmove = model.tk_nextmove  # array.array: the fastest to index from a Python loop
        self._rowbase = [row << 8 for row in model.tk_row]
        self._output = model.tk_output
        self._np_nextmove = np.frombuffer(model.tk_nextmove, dtype=f"u{model.tk_nextmove.itemsize}")
        self._np_rowbase = np.asarray(self._rowbase, dtype=np.int64)
        self._np_output = np.asarray(self._output, dtype=np.int64)
        self.words = None
        if words:
            from transforms.language.words import WordEvidence
            self.words = WordEvidence(self.languages)
            # log P(language) for a text with words but no n-gram: the class prior, folded like the scores
            prior_p = np.exp(self._pc - self._pc.max())
            prior_p /= prior_p.sum()
            for kept, added in self._folds:
                prior_p[kept] += prior_p[added]
            self._log_prior = np.log(prior_p[self._label_columns])
        # The fit (fit.py): the English column, and the model's languages outside the candidates (its outsiders)
        self.fit = False
        if fit:
            if self.words is None:
                raise ValueError("the English fit needs the word evidence (words=True)")
            outsiders = [i for i, c in enumerate(classes)
                         if c not in self.languages and c not in fit_rules.IGNORED_OUTSIDERS]
            self.fit = fit_rules.LANGUAGE in self.languages
            self._fit_label = self.languages.index(fit_rules.LANGUAGE) if self.fit else -1
            self._fit_column = self._label_columns[self._fit_label] if self.fit else -1
            self._outsiders = [classes[i] for i in outsiders]
            self._ptc_out = np.ascontiguousarray(model.nb_ptc[:, outsiders], dtype=np.float32)

    def detect_many(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        return [(code, confidence) for code, confidence, _ in self.explain_many(texts)]

    def explain_many(self, texts: Sequence[str]) -> list[tuple[str, float, str]]:
        results = [(UND, 0.0, "")] * len(texts)
        index = [i for i, text in enumerate(texts) if not is_blank(text)]
        if index:
            data = [_encode(texts[i]) for i in index]
            walk = self._walk_each if len(data) < SMALL_BATCH else self._walk_batch
            scored = self._score(data, *walk(data), [texts[i] for i in index])
            for i, result in zip(index, scored):
                results[i] = result
        return results

    def _walk_each(self, data: list[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(text number, n-gram id, count) of the n-grams found, sorted; one text after the other in Python."""
        nextmove, rowbase, output = self._nextmove, self._rowbase, self._output
        texts, grams, counts = [], [], []
        for number, chunk in enumerate(data):
            found: dict[int, int] = {}
            state = 0
            for byte in chunk:
                state = nextmove[rowbase[state] + byte]
                gram = output[state]
                if gram >= 0:
                    found[gram] = found.get(gram, 0) + 1
            for gram in sorted(found):
                texts.append(number)
                grams.append(gram)
                counts.append(found[gram])
        return np.asarray(texts, dtype=np.int64), np.asarray(grams, dtype=np.int64), np.asarray(counts)

    def _walk_batch(self, data: list[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The same as _walk_each, all texts advancing together: one NumPy step per byte position."""
        lengths = np.fromiter(map(len, data), dtype=np.int64, count=len(data))
        order = np.argsort(-lengths, kind="stable")  # longest first: the texts still walking are a prefix
        lengths = lengths[order]
        flat = np.frombuffer(b"".join(data[i] for i in order), dtype=np.uint8)
        starts = np.cumsum(lengths) - lengths
        steps = np.arange(lengths[0])
        valid = steps[:, None] < lengths[None, :]  # [position, text]
        padded = flat[np.where(valid, starts[None, :] + steps[:, None], 0)]
        active = np.searchsorted(-lengths, -steps, side="left")  # texts longer than each position
        states = np.zeros(len(data), dtype=np.int64)
        trail = np.zeros((len(steps), len(data)), dtype=np.int64)  # the state after each byte
        for step, count in zip(steps, active):
            states[:count] = self._np_nextmove[self._np_rowbase[states[:count]] + padded[step, :count]]
            trail[step, :count] = states[:count]
        grams = self._np_output[trail]
        found = (grams >= 0) & valid
        keys, counts = np.unique(order[np.nonzero(found)[1]] * len(self._ptc) + grams[found], return_counts=True)
        return *np.divmod(keys, len(self._ptc)), counts

    def _score(self, data: list[bytes], texts: np.ndarray, grams: np.ndarray, counts: np.ndarray,
               originals: list[str]) -> list[tuple[str, float, str]]:
        """Naive Bayes over log(1 + count) of each n-gram, as py3langid; per text, independent of the batch.

        (texts, grams, counts) come sorted by text then n-gram, so each text's sum runs in the same order.
        """
        weights = np.log1p(counts.astype(np.float32))
        weighted = weights[:, None] * self._ptc[grams]
        scores = np.zeros((len(data), len(self._pc)), dtype=np.float32)
        if len(texts):
            first = np.flatnonzero(np.concatenate(([True], texts[1:] != texts[:-1])))
            scores[texts[first]] = np.add.reduceat(weighted, first, axis=0)
        fit_ngrams = scores[:, self._fit_column].copy() if self.fit else None  # English's n-gram score, no prior
        scores += self._pc
        # py3langid's calibration: softmax at temperature sqrt(bytes).
        lengths = np.fromiter(map(len, data), dtype=np.float32, count=len(data))
        scores /= np.sqrt(lengths)[:, None]
        scores -= scores.max(axis=1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=1, keepdims=True)
        for kept, added in self._folds:
            scores[:, kept] += scores[:, added]
        probs = scores[:, self._label_columns]
        has_grams = np.zeros(len(data), dtype=bool)
        has_grams[texts] = True
        if self.words is not None:
            evidence, has_words, fit_words = self.words.scores_and_fit(originals,
                                                                       self._fit_label if self.fit else None)
            if has_words.any():
                logp = np.where(has_grams[:, None], np.log(np.maximum(probs, 1e-30)), self._log_prior) + evidence
                logp -= logp.max(axis=1, keepdims=True)
                np.exp(logp, out=logp)
                logp /= logp.sum(axis=1, keepdims=True)
                probs = np.where(has_words[:, None], logp, probs)
                has_grams |= has_words
        best = probs.argmax(axis=1)
        results = [(self.languages[b], float(probs[i, b]), "") if has_grams[i] else (UND, 0.0, "")
                   for i, b in enumerate(best.tolist())]
        if self.fit:
            self._check_fit(results, np.flatnonzero((best == self._fit_label) & has_grams), originals, texts, grams,
                            weights, fit_ngrams, fit_words, lengths)
        return results

    def _check_fit(self, results: list, answered: np.ndarray, originals: list[str], texts: np.ndarray,
                   grams: np.ndarray, weights: np.ndarray, fit_ngrams: np.ndarray, fit_words: np.ndarray,
                   lengths: np.ndarray) -> None:
        """Turn to UND, with a note, the English answers (rows `answered`) that fail the script rule or the fit."""
        checked = []
        for i in answered.tolist():
            script = foreign_script(originals[i])
            if script:
                results[i] = (UND, 0.0, f"script {script}, not {fit_rules.LANGUAGE}")
            else:
                checked.append(i)
        if not checked or not self._outsiders:
            return
        checked = np.asarray(checked, dtype=np.int64)
        # The outsiders' n-gram scores of those texts (a text without n-grams: 0 for all, as English's)
        outside = np.zeros((len(checked), self._ptc_out.shape[1]), dtype=np.float32)
        has_grams = np.zeros(len(checked), dtype=bool)
        entries = np.flatnonzero(np.isin(texts, checked))  # their n-grams, in the same order as for the candidates
        if len(entries):
            rows = texts[entries]
            first = np.flatnonzero(np.concatenate(([True], rows[1:] != rows[:-1])))
            at = np.searchsorted(checked, rows[first])
            outside[at] = np.add.reduceat(weights[entries, None] * self._ptc_out[grams[entries]], first, axis=0)
            has_grams[at] = True
        nearest = outside.argmax(axis=1)
        margin = (fit_ngrams[checked] - outside[np.arange(len(checked)), nearest]) / np.sqrt(lengths[checked])
        fit = fit_rules.NGRAM_WEIGHT * margin.astype(np.float64) + fit_words[checked] + fit_rules.ALLOWANCE
        for i, value, near, grams_found in zip(checked.tolist(), fit.tolist(), nearest.tolist(), has_grams.tolist()):
            if value <= 0:
                closest = f"; nearest outside them: {self._outsiders[near]}" if grams_found else ""
                results[i] = (UND, 0.0, f"no candidate fits ({results[i][0]} {results[i][1]:.2f} among the "
                                        f"candidates{closest})")
