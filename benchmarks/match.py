"""Matching benchmark: captions per second on one core with a 500k query list, automaton build time and
memory, for wit's matcher (the default engine, the C token trie, and its ahocorasick_rs and pyahocorasick
engines) and MetaCLIP's own Aho-Corasick code side by side, in the same run.

Data: ../shared/data/queries/proxy_500k.json and ../shared/data/captions/laion_style_10000.parquet when
present (else a generated 500k list and generated captions, said so in the output). Each implementation
runs in a child process of its own (build time, RSS growth, then captions/s over --passes passes of the
captions, CPU time of one thread), rotating the order over --repeat rounds; medians are printed. All outputs
are checked to be the same match sets.

MetaCLIP's code (facebookresearch/MetaCLIP, metaclip/substr_matching.py and its pyahocorasick variant) is
reproduced in `metaclip_matcher` below: spaced entries `" " + entry + " "` as keys, `(idx, key)` values, one
`automaton.iter` per spaced text, ids collected in a set.

Usage: .venv/bin/python benchmarks/match.py [--repeat 3] [--passes 3] [--json PATH]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))
TARGET = 150_000


def load_data():
    queries_path = SHARED / "queries" / "proxy_500k.json"
    captions_path = SHARED / "captions" / "laion_style_10000.parquet"
    if queries_path.exists() and captions_path.exists():
        import pyarrow.parquet as pq
        queries = json.loads(queries_path.read_text())
        captions = [t or "" for t in pq.read_table(captions_path, columns=["TEXT"]).column("TEXT").to_pylist()]
        return queries, captions, f"{queries_path.name} ({len(queries)} queries), {captions_path.name}"
    rng = random.Random(0)
    words = [f"w{i}" for i in range(300_000)]
    queries = words[:430_000] + [f"{rng.choice(words)} {rng.choice(words)}" for _ in range(70_000)]
    captions = [" ".join(rng.choice(words[:20000]) for _ in range(rng.randint(3, 15))) + rng.choice(".,!")
                for _ in range(10_000)]
    return queries, captions, "GENERATED data (the shared files are absent)"


def metaclip_matcher(metadata):
    """MetaCLIP's pyahocorasick matching, as in its repository."""
    import ahocorasick

    def spacing(text):
        puncts_to_wrap = [",", ".", ";", ":", "?", "!", "`"]
        chars_to_space = ["\t", "\n", "\r"]
        spaced_text = f" {text} "
        for punct_to_wrap in puncts_to_wrap:
            spaced_text = spaced_text.replace(punct_to_wrap, f" {punct_to_wrap} ")
        for char_to_space in chars_to_space:
            spaced_text = spaced_text.replace(char_to_space, " ")
        return spaced_text

    automaton = ahocorasick.Automaton()
    for idx, key in enumerate(f" {entry} " for entry in metadata):
        automaton.add_word(key, (idx, key))
    automaton.make_automaton()

    def substr_matching(text):
        matched_entry_ids = set()
        for end_index, (entry_id, original_value) in automaton.iter(spacing(text)):
            matched_entry_ids.add(entry_id)
        return sorted(matched_entry_ids)

    return lambda texts: [substr_matching(t) for t in texts]


def wit_matcher(queries, engine=None):
    from transforms.match.core import QueryMatcher
    matcher = QueryMatcher(queries, engine=engine)
    return lambda texts: [m for i in range(0, len(texts), 1000) for m in matcher.match_many(texts[i:i + 1000])]


IMPLS = {"wit": wit_matcher, "wit-rust": lambda q: wit_matcher(q, "ahocorasick_rs"),
         "wit-pyaho": lambda q: wit_matcher(q, "pyahocorasick"), "metaclip": metaclip_matcher}


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(impl: str, passes: int) -> dict:
    queries, captions, _ = load_data()
    before = rss_mb()
    start = time.thread_time()
    match = IMPLS[impl](queries)
    build = time.thread_time() - start
    grown = rss_mb() - before
    out = match(captions)  # warm-up pass, also the answer to compare
    start = time.thread_time()
    for _ in range(passes):
        match(captions)
    seconds = time.thread_time() - start
    digest = __import__("hashlib").sha256(json.dumps(out).encode()).hexdigest()
    return {"impl": impl, "build_s": build, "rss_mb": grown, "captions_per_s": passes * len(captions) / seconds,
            "matched_share": sum(1 for m in out if m) / len(out), "mean_matches": sum(map(len, out)) / len(out),
            "answer_sha256": digest}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--json", default=None)
    parser.add_argument("--child", choices=list(IMPLS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.passes)))
        return 0
    _, captions, what = load_data()
    runs = {impl: [] for impl in IMPLS}
    for r in range(args.repeat):
        order = list(IMPLS)[r % len(IMPLS):] + list(IMPLS)[:r % len(IMPLS)]
        for impl in order:
            out = subprocess.run([sys.executable, __file__, "--child", impl, "--passes", str(args.passes)],
                                 check=True, capture_output=True, text=True)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            runs[impl].append(result)
            print(f"  {impl:10s} run {r + 1}: {result['captions_per_s']:9.0f} captions/s, build {result['build_s']:.2f} s, "
                  f"+{result['rss_mb']:.0f} MB", flush=True)
    same = len({r["answer_sha256"] for rs in runs.values() for r in rs}) == 1
    med = {impl: {k: statistics.median(r[k] for r in rs) for k in ("captions_per_s", "build_s", "rss_mb")}
           for impl, rs in runs.items()}
    w, r, p, m = med["wit"], med["wit-rust"], med["wit-pyaho"], med["metaclip"]
    print(f"\nMatching benchmark: {what}; {len(captions)} captions x {args.passes} passes, one core "
          f"(thread CPU time), medians of {args.repeat}; load average {os.getloadavg()[0]:.1f}.")
    print(f"identical match sets from all: {same}; {100 * runs['wit'][0]['matched_share']:.1f}% of captions match, "
          f"{runs['wit'][0]['mean_matches']:.2f} matches per caption\n")
    from transforms.match.core import DEFAULT_ENGINE
    print(f"{'':28s}{'wit (' + DEFAULT_ENGINE + ')':>16s}{'wit (rust AC)':>16s}{'wit (pyaho)':>16s}"
          f"{'MetaCLIP AC':>16s}")
    for key, label, fmt in (("captions_per_s", "captions/s", "16.0f"), ("build_s", "build s", "16.2f"),
                            ("rss_mb", "memory MB (RSS growth)", "16.0f")):
        print(f"{label:28s}" + "".join(format(x[key], fmt) for x in (w, r, p, m)))
    ratio = w["captions_per_s"] / m["captions_per_s"]
    print(f"\nspeed ratio wit / MetaCLIP: {ratio:.2f}x;  target >= {TARGET} captions/s: "
          f"{'PASS' if w['captions_per_s'] >= TARGET else 'FAIL'} ({w['captions_per_s']:.0f})")
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": runs, "medians": med, "same_answers": same}, indent=1))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
