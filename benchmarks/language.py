"""Language identification benchmark: accuracy and texts/s on one core, each backend beside langdetect.

Data: ../shared/data/langid/gettext_600.json (600 real UI strings from Debian's gettext catalogues: en, de,
fr, es, ru, zh; 50 short and 50 medium per language) when present, else a small built-in sample (said so).
For each candidate set (the default 30 web languages, the data set's 6 languages, everything the backend
knows) and each backend (py3langid with wordfreq's word evidence, the default; py3langid's n-grams alone;
langdetect): accuracy overall, per length bucket and per language; precision and recall of the
default filter (keep English); texts/s of CPU time (time.process_time, one thread), the texts given to
detect_many in batches of the Beam stage's size, the 600 repeated until about --seconds have passed
(langdetect: one pass, which already takes seconds). py3langid also shows one detect() call per text.

Usage: .venv/bin/python benchmarks/language.py [--seconds 2]
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # one core: before NumPy loads
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "langid" / "gettext_600.json"
sys.path.insert(0, str(ROOT))

from transforms.language import DEFAULT_BACKEND, WEB_LANGUAGES, WEB_PRIOR, make_identifier  # noqa: E402
from transforms.language.base import BATCH  # noqa: E402

PEER = "langdetect"
DEFAULT_LABEL = f"{DEFAULT_BACKEND}+words"
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


def measure(backend, languages, prior, rows, seconds, words=False):
    start = time.process_time()
    identifier = make_identifier(backend, languages, prior, words=words)
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="CPU seconds to time each fast backend")
    args = parser.parse_args()
    rows, source = load_rows()
    print(f"data: {source}; {len(rows)} texts; batches of {BATCH} (the Beam stage's); one thread; CPU time")
    print(f"candidate sets: web30 = the default ({len(WEB_LANGUAGES)} common web languages weighed by their share "
          f"of web pages), web30-np = the same without that prior, "
          f"six = {','.join(LANGS)} (the data set's), all = every ISO 639-1 language the backend knows\n")
    header = (f"{'set':8} {'backend':15} {'cands':>5} {'acc':>5} {'short':>5} {'medium':>6} "
              + " ".join(f"{lang:>4}" for lang in LANGS)
              + f" {'en P':>5} {'en R':>5} {'texts/s':>8} {'x peer':>7} {'1-by-1/s':>8} {'load s':>6}")
    print(header)
    print("-" * len(header))
    results = {}
    configs = ((DEFAULT_LABEL, DEFAULT_BACKEND, True), (DEFAULT_BACKEND, DEFAULT_BACKEND, False), (PEER, PEER, False))
    for set_name, languages, prior in CANDIDATE_SETS:
        peer = measure(PEER, languages, prior, rows, args.seconds)
        for label, backend, words in configs:
            r = peer if backend == PEER else measure(backend, languages, prior, rows, args.seconds, words)
            results[set_name, label] = r
            single = f"{r['single_rate']:8.0f}" if "single_rate" in r else f"{'-':>8}"
            print(f"{set_name:8} {label:15} {r['candidates']:5d} {r['acc']:5.3f} {r['short']:5.3f} "
                  f"{r['medium']:6.3f} "
                  + " ".join(f"{r[lang]:4.2f}" for lang in LANGS)
                  + f" {r['en_precision']:5.3f} {r['en_recall']:5.3f} {r['rate']:8.0f} "
                  f"{r['rate'] / peer['rate']:6.1f}x {single} {r['load_s']:6.2f}")
    print(f"\n{DEFAULT_LABEL} = {DEFAULT_BACKEND} with wordfreq's word evidence (the default, --language-words "
          f"auto); {DEFAULT_BACKEND} = its n-grams only")
    print(f"targets for the default ({DEFAULT_LABEL}): accuracy >= {TARGET_ACCURACY}, "
          f">= {TARGET_RATE:,} texts/s on one core")
    for set_name, _, _ in CANDIDATE_SETS:
        for label in (DEFAULT_LABEL, DEFAULT_BACKEND):
            r = results[set_name, label]
            verdicts = [("accuracy", r["acc"] >= TARGET_ACCURACY, f"{r['acc']:.3f}"),
                        ("speed", r["rate"] >= TARGET_RATE, f"{r['rate']:,.0f} texts/s")]
            name = f"{set_name} {label}{' (default)' if (set_name, label) == ('web30', DEFAULT_LABEL) else ''}"
            print(f"  {name:28} " + "   ".join(f"{what} {'PASS' if ok else 'FAIL'} ({value})"
                                               for what, ok, value in verdicts))


if __name__ == "__main__":
    main()
