"""Measure a checkpoint: zero-shot classification on an image folder, image-text retrieval, a linear probe.

  wit eval zeroshot CKPT --images DIR            (DIR/<class name>/*.jpg; names from folders or --classnames)
  wit eval retrieval CKPT --shards PATTERN       (held-out shards, one caption per sample)
  wit eval retrieval CKPT --captions captions.txt --images DIR [--split-json split.json --split test]
  wit eval linear-probe CKPT --train DIR [--test DIR]
"""
from __future__ import annotations

import json

HELP = "evaluate a checkpoint: zero-shot, retrieval, linear probe"


def register(p) -> None:
    sub = p.add_subparsers(dest="task", metavar="TASK", required=True)
    z = sub.add_parser("zeroshot", help="zero-shot classification on an image folder")
    z.add_argument("--images", required=True, help="folder with one sub-folder of images per class")
    z.add_argument("--classnames", default=None, help="file: one class name per line, in sorted folder order")
    z.add_argument("--templates", default=None, help="file: one prompt template per line with {} (default: 8 "
                   "CLIP-style templates)")
    r = sub.add_parser("retrieval", help="image-to-text and text-to-image recall@1/5/10")
    r.add_argument("--shards", default=None, help="held-out shards (folder or brace pattern)")
    r.add_argument("--limit", type=int, default=None, help="at most this many samples from --shards")
    r.add_argument("--captions", default=None, help="CSV with columns image,caption (several rows per image)")
    r.add_argument("--images", default=None, help="folder of the images named in --captions")
    r.add_argument("--split-json", default=None, help='JSON {"test": [image names], ...} restricting --captions')
    r.add_argument("--split", default="test", help="which split of a Flickr-style split.json to evaluate")
    lp = sub.add_parser("linear-probe", help="logistic regression on frozen image features")
    lp.add_argument("--train", required=True, help="image folder (one sub-folder per class)")
    lp.add_argument("--test", default=None, help="image folder with the same classes (default: hold out 30%%)")
    for s in (z, r, lp):
        s.add_argument("checkpoint", help="a checkpoint file written by wit train")
        s.add_argument("--device", default=None, help="torch device (default: cuda when there is one, else cpu)")
        s.add_argument("--json", default=None, help="also write the result to this JSON file")


def _lines(path: str) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if line.strip()]


def run(args) -> int:
    from wit_pipeline.train import evaluate as ev

    m = ev.load(args.checkpoint, args.device)
    if args.task == "zeroshot":
        result = ev.zero_shot(m, args.images, _lines(args.classnames) if args.classnames else None,
                              tuple(_lines(args.templates)) if args.templates else ev.TEMPLATES)
    elif args.task == "retrieval":
        if bool(args.shards) == bool(args.captions):
            raise ValueError("give either --shards or --captions with --images")
        if args.captions and not args.images:
            raise ValueError("--captions needs --images")
        images, captions = (ev.shard_pairs(args.shards, args.limit) if args.shards else
                            ev.captions_file(args.captions, args.images, args.split_json, args.split))
        result = ev.retrieval(m, images, captions)
    else:
        result = ev.linear_probe(m, args.train, args.test)
    result["checkpoint"], result["step"] = args.checkpoint, m.step
    print(json.dumps(result, indent=1))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1)
    return 0
