"""Train the byte-level BPE tokenizer on a corpus's captions (`wit train` does this by itself when given no
--tokenizer; this command makes one to share between runs)."""
from __future__ import annotations

HELP = "train the BPE tokenizer on a corpus's captions"


def register(p) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    t = sub.add_parser("train", help="learn a BPE vocabulary from the captions of shards")
    t.add_argument("data", help="wit build output, shards folder, or brace pattern of .tar shards")
    t.add_argument("--output", required=True, help="tokenizer.json to write")
    t.add_argument("--vocab-size", type=int, default=8192, help="BPE vocabulary size, special tokens included")
    t.add_argument("--context-length", type=int, default=32, help="recorded for the encode check printed")
    t.add_argument("--samples", type=int, default=200_000, help="captions to read at most")


def run(args) -> int:
    from wit_pipeline.train.data import iter_captions, resolve_shards
    from wit_pipeline.train.tokenizer import train_tokenizer

    urls, _ = resolve_shards(args.data)
    tok = train_tokenizer(iter_captions(urls, args.samples), args.vocab_size, args.context_length)
    tok.save(args.output)
    print(f"wrote {args.output}: {tok.vocab_size} tokens")
    return 0
