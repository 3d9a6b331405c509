"""The language identification core: both backends, determinism, "und", options, and accuracy on real strings."""
import json
import os

import pytest

from transforms.language import (ALL, BACKENDS, UND, WEB_LANGUAGES, LanguageIdentifier, LanguageOptions,
                                 make_identifier)
from transforms.language.backend_py3langid import SMALL_BATCH

GETTEXT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "shared", "data", "langid",
                       "gettext_600.json")
SIX = ("en", "de", "fr", "es", "ru", "zh")  # the languages of gettext_600.json

SENTENCES = {
    "en": ["A brown dog is running across the green field.",
           "Photograph of the old lighthouse at sunset with the sea in the background."],
    "de": ["Ein brauner Hund läuft über die grüne Wiese.",
           "Das alte Rathaus der Stadt wurde im letzten Jahrhundert vollständig renoviert."],
    "fr": ["Un chien brun court à travers le champ vert.",
           "La vieille maison de ma grand-mère se trouve au bord de la rivière."],
    "es": ["Un perro marrón corre por el campo verde.",
           "La catedral de la ciudad fue construida durante el siglo dieciséis."],
    "ru": ["Коричневая собака бежит по зелёному полю.",
           "Старый маяк на берегу моря освещает путь кораблям."],
    "zh": ["一只棕色的狗在绿色的田野上奔跑。", "这座古老的城市有很多美丽的建筑。"],
}
LABELLED = [(lang, text) for lang, texts in SENTENCES.items() for text in texts]


@pytest.fixture(scope="module", params=sorted(BACKENDS))
def identifier(request) -> LanguageIdentifier:
    return make_identifier(request.param, WEB_LANGUAGES)


@pytest.fixture(scope="module")
def fast_six():
    return make_identifier("py3langid", SIX)


def test_clear_sentences_in_six_languages(identifier):
    found = identifier.detect_many([text for _, text in LABELLED])
    assert [lang for lang, _ in found] == [lang for lang, _ in LABELLED]
    assert all(0.5 < confidence <= 1.0 for _, confidence in found)


def test_detect_agrees_with_detect_many(identifier):
    texts = [text for _, text in LABELLED]
    assert [identifier.detect(text) for text in texts] == identifier.detect_many(texts)


@pytest.mark.parametrize("blank", ["", " ", "\t\n", "\u3000"])
def test_blank_text_is_und(identifier, blank):
    assert identifier.detect(blank) == (UND, 0.0)
    assert identifier.detect_many(["A dog in a park.", blank])[1] == (UND, 0.0)


def test_same_results_twice_and_from_a_fresh_identifier(identifier):
    texts = [text for _, text in LABELLED] + ["Sort Type", "merged", "LZO-Archiv", "subtítulos SSA"]
    first = identifier.detect_many(texts)
    assert identifier.detect_many(texts) == first
    assert make_identifier(identifier.name, WEB_LANGUAGES).detect_many(texts) == first


def test_codes_are_iso_639_1(identifier):
    assert all(len(code) == 2 for code in identifier.languages)
    for code, _ in identifier.detect_many([text for _, text in LABELLED] + ["繁體中文的句子，台灣的網站。"]):
        assert code == UND or len(code) == 2


def test_restriction_limits_the_answers():
    ident = make_identifier("py3langid", ("en", "de"))
    assert ident.languages == ("de", "en")
    assert {lang for lang, _ in ident.detect_many([text for _, text in LABELLED])} <= {"de", "en", UND}


def test_unrestricted_backends_know_many_languages():
    assert len(make_identifier("py3langid", None).languages) > 90
    assert len(make_identifier("langdetect", None).languages) > 50


def test_fast_backend_batch_walk_equals_per_text_walk(fast_six):
    # Batches from SMALL_BATCH texts on walk all texts together in NumPy; smaller ones walk each in Python.
    texts = [text for _, text in LABELLED] * (SMALL_BATCH // len(LABELLED) + 2) + ["x" * 3000, "Ein Hund"]
    assert len(texts) >= SMALL_BATCH
    batched = fast_six.detect_many(texts)
    assert batched == [fast_six.detect(text) for text in texts]
    assert fast_six.detect_many(texts[::-1]) == batched[::-1]


@pytest.mark.parametrize("backend, languages, message", [
    ("nope", None, "unknown language backend"),
    ("py3langid", ("en", "xx"), "does not know"),
    ("langdetect", ("en", "ace"), "does not know"),
    ("py3langid", ("en",), "at least two"),
])
def test_bad_backend_or_languages(backend, languages, message):
    with pytest.raises(ValueError, match=message):
        make_identifier(backend, languages)


def test_options_defaults_and_verdicts():
    options = LanguageOptions()
    assert options.backend == "py3langid" and options.keep == ("en",) and options.restrict == WEB_LANGUAGES
    assert options.verdict("en", 0.3) is None
    assert options.verdict("de", 0.98) == ("language", "de (0.98)")
    assert options.verdict(UND, 0.0) == ("language", "und (0.00)")
    strict = LanguageOptions(min_confidence=0.5)
    assert strict.verdict("en", 0.3) == ("language", "en (0.30) below min_confidence 0.50")
    assert LanguageOptions(keep=ALL).verdict("de", 0.9) is None


def test_options_candidates_include_kept_languages():
    assert LanguageOptions(keep=("en", "ga"), restrict=("en", "de")).candidates == ("de", "en", "ga")
    assert LanguageOptions(restrict=None).candidates is None
    assert LanguageOptions(keep=ALL, restrict=("fr", "en")).candidates == ("en", "fr")


def test_options_from_strings_and_validation():
    assert LanguageOptions.from_strings(keep="en,de", restrict="all").keep == ("en", "de")
    assert LanguageOptions.from_strings(keep="all").keep == ALL
    assert LanguageOptions.from_strings(restrict="en, fr").restrict == ("en", "fr")
    assert LanguageOptions.from_strings().restrict == WEB_LANGUAGES
    assert LanguageOptions(keep=["en"]).keep == ("en",)
    with pytest.raises(ValueError):
        LanguageOptions(backend="fasttext")
    with pytest.raises(ValueError):
        LanguageOptions(keep="en")  # a bare string is a mistake for ("en",)
    with pytest.raises(ValueError):
        LanguageOptions(min_confidence=1.5)


def _gettext():
    if not os.path.exists(GETTEXT):
        pytest.skip(f"{GETTEXT} is absent")
    with open(GETTEXT, encoding="utf-8") as f:
        return json.load(f)


def _accuracy(identifier, rows):
    found = identifier.detect_many([row["text"] for row in rows])
    return sum(lang == row["lang"] for (lang, _), row in zip(found, rows)) / len(rows)


def test_default_backend_accuracy_on_gettext_six_languages(fast_six):
    # The target of issue 3 (a quality figure, not a timing): >= 0.93 with the candidates restricted to the
    # data set's six languages. benchmarks/language.py prints it with the speed.
    assert _accuracy(fast_six, _gettext()) >= 0.93


def test_default_backend_accuracy_on_gettext_web_languages():
    # With the default 30 web languages, short UI strings are harder (es/pt, ru/bg/uk look-alikes): measured
    # 0.88. A floor against regressions, not the target.
    assert _accuracy(make_identifier("py3langid", WEB_LANGUAGES), _gettext()) >= 0.86


def test_a_prior_weighs_the_candidates():
    from transforms.language import WEB_PRIOR, LanguageOptions, make_identifier
    from transforms.language.registry import prior_shares

    shares = prior_shares(WEB_PRIOR, ("de", "en", "xx"))
    assert abs(sum(shares.values()) - 1) < 1e-9 and shares["en"] / shares["de"] == 44 / 5.5
    for backend in ("py3langid", "langdetect"):
        plain = make_identifier(backend, ("de", "en"))
        leaning = make_identifier(backend, ("de", "en"), {"de": 1e6, "en": 1e-6})
        # an overwhelming prior decides a text too short to carry evidence; a clear text still wins against it
        assert leaning.detect("Name")[0] == "de"
        web = make_identifier(backend, ("de", "en"), WEB_PRIOR)  # English 8x as likely a priori
        assert web.detect("Der Hund schläft im Garten unter dem großen Baum")[0] == "de"
        assert plain.detect("Der Hund schläft im Garten unter dem großen Baum")[0] == "de"
    assert LanguageOptions().prior_map == WEB_PRIOR and LanguageOptions(prior="none").prior_map is None
    with pytest.raises(ValueError, match="prior"):
        LanguageOptions(prior="uniform")
