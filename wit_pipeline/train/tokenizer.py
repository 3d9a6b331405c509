"""Byte-level BPE trained on the corpus's own captions with the `tokenizers` library.

Ids: 0 is padding, 1 start-of-text, 2 end-of-text. A caption becomes [SOT] + tokens + [EOT], cut to the
context length (the EOT token is kept when a caption is cut, as the text tower pools there) and padded with 0.
Lower-cased and NFC-normalised like CLIP's tokenizer; byte-level, so no caption is ever out of vocabulary.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

PAD, SOT, EOT = "<|pad|>", "<|startoftext|>", "<|endoftext|>"
SPECIAL_TOKENS = [PAD, SOT, EOT]


class Tokenizer:
    def __init__(self, tokenizer, context_length: int):
        if context_length < 3:
            raise ValueError(f"context_length must be at least 3, not {context_length}")
        self._tok = tokenizer
        # "<|endoftext|>" typed into an alt text is text, not our end token: it must not end the caption early.
        self._tok.encode_special_tokens = True
        self.context_length = context_length
        self.pad_id, self.sot_id, self.eot_id = (tokenizer.token_to_id(t) for t in SPECIAL_TOKENS)
        if (self.pad_id, self.sot_id, self.eot_id) != (0, 1, 2):
            raise ValueError("not a wit tokenizer: ids 0, 1, 2 must be the pad, start and end tokens")

    @property
    def vocab_size(self) -> int:
        return self._tok.get_vocab_size()

    def to_json(self) -> str:
        return self._tok.to_str()

    @classmethod
    def from_json(cls, text: str, context_length: int) -> "Tokenizer":
        from tokenizers import Tokenizer as HFTokenizer
        return cls(HFTokenizer.from_str(text), context_length)

    @classmethod
    def load(cls, path: str, context_length: int) -> "Tokenizer":
        with open(path, encoding="utf-8") as f:
            return cls.from_json(f.read(), context_length)

    def save(self, path: str) -> None:
        import os
        with open(path + ".tmp", "w", encoding="utf-8") as f:  # renamed into place: readers never see half
            f.write(self.to_json())
        os.replace(path + ".tmp", path)

    def encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), context_length) int64 ids; encode_batch runs in the library's Rust threads."""
        out = np.zeros((len(texts), self.context_length), dtype=np.int64)
        room = self.context_length - 2
        for row, enc in zip(out, self._tok.encode_batch(texts, add_special_tokens=False)):
            ids = enc.ids[:room]
            row[0] = self.sot_id
            row[1:len(ids) + 1] = ids
            row[len(ids) + 1] = self.eot_id
        return out

    def decode(self, ids: Iterable[int]) -> str:
        return self._tok.decode([i for i in ids if i > 2])


def train_tokenizer(texts: Iterable[str], vocab_size: int = 8192, context_length: int = 32,
                    min_frequency: int = 2) -> Tokenizer:
    """Learn merges from an iterator of captions; the vocabulary may end smaller than asked on a small corpus."""
    from tokenizers import Tokenizer as HFTokenizer
    from tokenizers import decoders, models, normalizers, pre_tokenizers, trainers

    if vocab_size < 256 + len(SPECIAL_TOKENS):
        raise ValueError(f"vocab_size must be at least {256 + len(SPECIAL_TOKENS)} (the 256 bytes and the special tokens)")
    tok = HFTokenizer(models.BPE())
    tok.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Lowercase(), normalizers.Strip()])
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    seen = 0

    def counted():
        nonlocal seen
        for text in texts:
            if text:
                seen += 1
                yield text

    tok.train_from_iterator(counted(), trainer=trainer)
    if not seen:
        raise ValueError("no captions to train the tokenizer on: the corpus has no non-empty .txt entries")
    return Tokenizer(tok, context_length)

