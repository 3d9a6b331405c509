"""Language identification benchmark: accuracy and texts/s on one core, each backend beside langdetect.

Two data sets, both reported (--only picks one):

1. sentences: tests/fixtures/langid/sentences.jsonl.gz, real sentences in 196 languages cut to alt-text lengths
   (README beside it), its held-out "report" half (--split). The English filter as the pipeline runs it
   (the default: py3langid, 30 web languages, the web prior, word evidence and the English fit), the same
   without the fit (the default before it), and langdetect (the reference peer), in one run: English
   precision (without Scots and the English-based creoles, and with them) and recall, recall per source and
   per length, the share of each language's texts taken as English (every language of the set), and texts/s
   per core: --runs alternating timed runs of each configuration over the same texts (median and spread),
   with the load average (os.getloadavg) before and after.
2. gettext: ../shared/data/langid/gettext_600.json (600 real UI strings from Debian's gettext catalogues: en,
   de, fr, es, ru, zh; 50 short and 50 medium per language) when present, else a small built-in sample (said
   so). For each candidate set (the default 30 web languages, the data set's 6 languages, everything the
   backend knows) and each backend (py3langid with word evidence and the English fit, the default; without the
   fit; py3langid's n-grams alone; langdetect): accuracy overall, per length bucket and per language;
   precision and recall of the default filter (keep English); texts/s of CPU time, the 600 repeated until
   about --seconds have passed (langdetect: one pass, which already takes seconds). py3langid also shows one
   detect() call per text.

Speed everywhere: time.process_time (CPU time of this one-thread process), the texts given to detect_many in
batches of the Beam stage's size.

Usage: .venv/bin/python benchmarks/language.py [--seconds 2] [--runs 3] [--only sentences|gettext]
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # one core: before NumPy loads
    os.environ[_var] = "1"

import argparse  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "langid" / "gettext_600.json"
SENTENCES = ROOT / "tests" / "fixtures" / "langid" / "sentences.jsonl.gz"
sys.path.insert(0, str(ROOT))

from transforms.language import DEFAULT_BACKEND, WEB_LANGUAGES, WEB_PRIOR, make_identifier  # noqa: E402
from transforms.language.base import BATCH  # noqa: E402

PEER = "langdetect"
DEFAULT_LABEL = f"{DEFAULT_BACKEND}+words+fit"
NOFIT_LABEL = f"{DEFAULT_BACKEND}+words"
TARGET_PRECISION, TARGET_RECALL = 0.99, 0.98
PEER_TIMED = 2_000  # langdetect's timed runs take this many texts of the set (a whole pass takes minutes)
LANGS = ("en", "de", "fr", "es", "ru", "zh")
TARGET_ACCURACY, TARGET_RATE = 0.93, 20_000
# (name, candidates, prior): the default first (30 web languages weighed by their share of web pages)
CANDIDATE_SETS = [("web30", WEB_LANGUAGES, WEB_PRIOR), ("web30-np", WEB_LANGUAGES, None), ("six", LANGS, None),
                  ("all", None, None)]

SAMPLE = {  # two short and two medium texts per language, used only when the data file is absent
    "en": ["Open file", "Show hidden files", "The file could not be saved to the selected folder.",
           "Connection to the server was lost while downloading."],
    "de": ["Datei öffnen", "Versteckte Dateien anzeigen",
           "Die Datei konnte nicht im gewählten Ordner gespeichert werden.",
           "Die Verbindung zum Server wurde beim Herunterladen unterbrochen."],
    "fr": ["Ouvrir le fichier", "Afficher les fichiers cachés",
           "Le fichier n'a pas pu être enregistré dans ce dossier.",
           "La connexion au serveur a été perdue pendant le téléchargement."],
    "es": ["Abrir archivo", "Mostrar archivos ocultos", "No se pudo guardar el archivo en la carpeta seleccionada.",
           "Se perdió la conexión con el servidor durante la descarga."],
    "ru": ["Открыть файл", "Показать скрытые файлы", "Не удалось сохранить файл в выбранную папку.",
           "Соединение с сервером было потеряно во время загрузки."],
    "zh": ["打开文件", "显示隐藏文件", "无法将文件保存到所选文件夹。", "下载时与服务器的连接已断开。"],
}


def load_rows():
    if DATA.exists():
        return json.loads(DATA.read_text(encoding="utf-8")), f"{DATA.name}"
    rows = [{"lang": lang, "text": text, "bucket": "short" if i < 2 else "medium"}
            for lang, texts in SAMPLE.items() for i, text in enumerate(texts)]
    return rows, f"BUILT-IN SAMPLE of {len(rows)} texts ({DATA} is absent: figures are indicative only)"


def accuracy(found, rows, keep=lambda row: True):
    pairs = [(lang, row["lang"]) for lang, row in zip(found, rows) if keep(row)]
    return sum(a == b for a, b in pairs) / len(pairs) if pairs else float("nan")


def rate(run, texts, seconds, min_passes=1):
    """Texts per CPU second: whole passes over `texts` until `seconds` of process time have gone by."""
    done, start = 0, time.process_time()
    while done < min_passes * len(texts) or time.process_time() - start < seconds:
        run(texts)
        done += len(texts)
    return done / (time.process_time() - start)


def batched(identifier):
    def run(texts):
        return [r for i in range(0, len(texts), BATCH) for r in identifier.detect_many(texts[i:i + BATCH])]
    return run


def measure(backend, languages, prior, rows, seconds, words=False, fit=False):
    start = time.process_time()
    identifier = make_identifier(backend, languages, prior, words=words, fit=fit)
    load_s = time.process_time() - start
    texts = [row["text"] for row in rows]
    run = batched(identifier)
    start = time.process_time()
    found = [lang for lang, _ in run(texts)]  # the first pass is also timed: langdetect gets only this one
    first = len(texts) / (time.process_time() - start)
    result = {
        "backend": backend, "candidates": len(identifier.languages), "load_s": load_s,
        "acc": accuracy(found, rows),
        "short": accuracy(found, rows, lambda r: r["bucket"] == "short"),
        "medium": accuracy(found, rows, lambda r: r["bucket"] == "medium"),
        **{lang: accuracy(found, rows, lambda r, lang=lang: r["lang"] == lang) for lang in LANGS},
        "rate": first if backend == PEER else rate(run, texts, seconds),
    }
    kept = [row["lang"] for lang, row in zip(found, rows) if lang == "en"]
    result["en_precision"] = kept.count("en") / len(kept) if kept else float("nan")
    result["en_recall"] = kept.count("en") / sum(row["lang"] == "en" for row in rows)
    if backend != PEER:
        result["single_rate"] = rate(lambda ts: [identifier.detect(t) for t in ts], texts, seconds / 2)
    return result


def load_sentences(split):
    with gzip.open(SENTENCES, "rt", encoding="utf-8") as f:
        return [row for row in map(json.loads, f) if split == "all" or row["split"] == split]


def english_figures(found, rows):
    """English precision (without the English-based languages; with them), recall, recall per source and per
    kind, and each language's share of texts taken as English."""
    kept = [row for code, row in zip(found, rows) if code == "en"]
    true = sum(row["lang"] == "en" for row in kept)
    english = [(code, row) for code, row in zip(found, rows) if row["lang"] == "en"]
    taken = defaultdict(list)
    for code, row in zip(found, rows):
        taken[row["lang"]].append(code == "en")
    recall_by = {}
    for key in ("source", "kind"):
        groups = defaultdict(list)
        for code, row in english:
            groups[row[key]].append(code == "en")
        recall_by.update({name: sum(v) / len(v) for name, v in sorted(groups.items())})
    return {"precision": true / max(1, sum(not row.get("english_based") for row in kept)),
            "precision_all": true / max(1, len(kept)), "recall": true / len(english),
            "recall_by": recall_by, "taken": {lang: sum(v) / len(v) for lang, v in taken.items()},
            "counts": {lang: len(v) for lang, v in taken.items()}}


def sentences_report(args):
    rows = load_sentences(args.split)
    texts = [row["text"] for row in rows]
    english_based = sorted({row["lang"] for row in rows if row.get("english_based")})
    print(f"== sentences: {SENTENCES.relative_to(ROOT)}, split {args.split}: {len(rows)} texts, "
          f"{len({row['lang'] for row in rows})} languages, {sum(row['lang'] == 'en' for row in rows)} English; "
          f"batches of {BATCH}; one thread; CPU time")
    load_before = os.getloadavg()
    configs = [(DEFAULT_LABEL, DEFAULT_BACKEND, True, True), (NOFIT_LABEL, DEFAULT_BACKEND, True, False),
               (PEER, PEER, False, False)]
    identifiers, figures, rates = {}, {}, defaultdict(list)
    for label, backend, words, fit in configs:
        identifiers[label] = make_identifier(backend, WEB_LANGUAGES, WEB_PRIOR, words=words, fit=fit)
        figures[label] = english_figures([code for code, _ in batched(identifiers[label])(texts)], rows)
    peer_texts = texts[::max(1, len(texts) // PEER_TIMED)]
    for _ in range(args.runs):  # alternating: a slow minute of the machine hits every configuration alike
        for label, *_ in configs:
            timed = peer_texts if label == PEER else texts
            rates[label].append(rate(batched(identifiers[label]), timed, 0 if label == PEER else args.seconds))
    load_after = os.getloadavg()

    print(f"\n{'configuration':22} {'en P':>6} {'en P*':>6} {'en R':>6} {'texts/s/core: median':>21} "
          f"{'spread (min-max)':>18}  runs")
    for label, *_ in configs:
        f, r = figures[label], rates[label]
        print(f"{label:22} {f['precision']:6.4f} {f['precision_all']:6.4f} {f['recall']:6.4f} "
              f"{statistics.median(r):21,.0f} {min(r):8,.0f}-{max(r):<9,.0f}  {len(r)}"
              + (f" (of {len(peer_texts)} texts)" if label == PEER else ""))
    print(f"en P = English precision without the English-based languages ({', '.join(english_based)}: Scots and "
          f"English-based creoles, whose words are English words), en P* = with them; en R = recall")
    print(f"load average (1, 5, 15 min): before {', '.join(f'{x:.2f}' for x in load_before)}; "
          f"after {', '.join(f'{x:.2f}' for x in load_after)} ({os.cpu_count()} cores)")
    print("\nEnglish recall by source and length:")
    for label, *_ in configs:
        print(f"  {label:22} " + "  ".join(f"{k} {v:.3f}" for k, v in figures[label]["recall_by"].items()))
    default, counts = figures[DEFAULT_LABEL], figures[DEFAULT_LABEL]["counts"]
    langs = sorted((lang for lang in counts if lang != "en"),
                   key=lambda lang: (-default["taken"][lang], -figures[NOFIT_LABEL]["taken"][lang], lang))
    print(f"\nShare of each language's texts taken as English (every language of the set; * = among the "
          f"{len(WEB_LANGUAGES)} candidates, + = English-based), worst first for the default:")
    cells = [f"{lang + ('*' if lang in WEB_LANGUAGES else '+' if lang in english_based else ''):5} {counts[lang]:4d} "
             + " ".join(f"{figures[label]['taken'][lang]:4.2f}" for label, *_ in configs) for lang in langs]
    print(f"  columns: language, texts, then {', '.join(label for label, *_ in configs)}")
    for i in range(0, len(cells), 4):
        print("  " + " | ".join(cells[i:i + 4]))
    speed = statistics.median(rates[DEFAULT_LABEL])
    verdicts = [("precision", default["precision"] >= TARGET_PRECISION, f"{default['precision']:.4f}"),
                ("recall", default["recall"] >= TARGET_RECALL, f"{default['recall']:.4f}"),
                ("speed", speed >= TARGET_RATE, f"{speed:,.0f} texts/s/core")]
    print(f"\ntargets for the default ({DEFAULT_LABEL}) on this set: English precision >= {TARGET_PRECISION}, "
          f"recall >= {TARGET_RECALL}, >= {TARGET_RATE:,} texts/s/core")
    print("  " + "   ".join(f"{what} {'PASS' if ok else 'FAIL'} ({value})" for what, ok, value in verdicts))


def gettext_report(args):
    rows, source = load_rows()
    print("\n== gettext")
    print(f"data: {source}; {len(rows)} texts; batches of {BATCH} (the Beam stage's); one thread; CPU time")
    print(f"candidate sets: web30 = the default ({len(WEB_LANGUAGES)} common web languages weighed by their share "
          f"of web pages), web30-np = the same without that prior, "
          f"six = {','.join(LANGS)} (the data set's), all = every ISO 639-1 language the backend knows\n")
    header = (f"{'set':8} {'backend':19} {'cands':>5} {'acc':>5} {'short':>5} {'medium':>6} "
              + " ".join(f"{lang:>4}" for lang in LANGS)
              + f" {'en P':>5} {'en R':>5} {'texts/s':>8} {'x peer':>7} {'1-by-1/s':>8} {'load s':>6}")
    print(header)
    print("-" * len(header))
    results = {}
    configs = ((DEFAULT_LABEL, DEFAULT_BACKEND, True, True), (NOFIT_LABEL, DEFAULT_BACKEND, True, False),
               (DEFAULT_BACKEND, DEFAULT_BACKEND, False, False), (PEER, PEER, False, False))
    for set_name, languages, prior in CANDIDATE_SETS:
        peer = measure(PEER, languages, prior, rows, args.seconds)
        for label, backend, words, fit in configs:
            r = peer if backend == PEER else measure(backend, languages, prior, rows, args.seconds, words, fit)
            results[set_name, label] = r
            single = f"{r['single_rate']:8.0f}" if "single_rate" in r else f"{'-':>8}"
            print(f"{set_name:8} {label:19} {r['candidates']:5d} {r['acc']:5.3f} {r['short']:5.3f} "
                  f"{r['medium']:6.3f} "
                  + " ".join(f"{r[lang]:4.2f}" for lang in LANGS)
                  + f" {r['en_precision']:5.3f} {r['en_recall']:5.3f} {r['rate']:8.0f} "
                  f"{r['rate'] / peer['rate']:6.1f}x {single} {r['load_s']:6.2f}")
    print(f"\n{DEFAULT_LABEL} = {DEFAULT_BACKEND} with wordfreq's word evidence and the English fit (the default, "
          f"--language-words auto --language-fit auto); {NOFIT_LABEL} = without the fit; {DEFAULT_BACKEND} = its "
          f"n-grams only")
    print(f"targets for the default ({DEFAULT_LABEL}): accuracy >= {TARGET_ACCURACY}, "
          f">= {TARGET_RATE:,} texts/s on one core")
    for set_name, _, _ in CANDIDATE_SETS:
        for label in (DEFAULT_LABEL, NOFIT_LABEL, DEFAULT_BACKEND):
            r = results[set_name, label]
            verdicts = [("accuracy", r["acc"] >= TARGET_ACCURACY, f"{r['acc']:.3f}"),
                        ("speed", r["rate"] >= TARGET_RATE, f"{r['rate']:,.0f} texts/s")]
            name = f"{set_name} {label}{' (default)' if (set_name, label) == ('web30', DEFAULT_LABEL) else ''}"
            print(f"  {name:34} " + "   ".join(f"{what} {'PASS' if ok else 'FAIL'} ({value})"
                                               for what, ok, value in verdicts))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="CPU seconds to time each fast backend (a run)")
    parser.add_argument("--runs", type=int, default=3, help="alternating timed runs per configuration (sentences)")
    parser.add_argument("--split", default="report", choices=("report", "tune", "all"), help="half of the sentences")
    parser.add_argument("--only", choices=("sentences", "gettext"), help="one data set only")
    args = parser.parse_args()
    if args.only != "gettext":
        sentences_report(args)
    if args.only != "sentences":
        gettext_report(args)


if __name__ == "__main__":
    main()
