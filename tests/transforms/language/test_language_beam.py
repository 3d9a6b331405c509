"""IdentifyLanguage on FnApiRunner: English kept, others rejected with their reason, "all" keeps everything."""
import apache_beam as beam
from apache_beam.metrics import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from transforms.candidate import candidate
from transforms.language import ALL, LanguageOptions
from transforms.language.base import BATCH
from transforms.language.beam import IdentifyLanguage
from transforms.beam_util import Batch, Unbatch

ENGLISH = ["A brown dog is running across the green field.", "Photograph of an old lighthouse at sunset."]
GERMAN = "Ein brauner Hund läuft über die grüne Wiese."
FRENCH = "Un chien brun court à travers le champ vert."
TEXTS = ENGLISH + [GERMAN, FRENCH, ""]
ELEMENTS = [candidate(f"http://example.com/{i}.jpg", text) for i, text in enumerate(TEXTS)]


def _run(options, elements=ELEMENTS):
    pipeline = TestPipeline(argv=["--runner=FnApiRunner"])
    result = pipeline | beam.Create(elements) | Batch() | IdentifyLanguage(options)
    return pipeline, result


def test_english_kept_others_rejected_with_reason():
    pipeline, result = _run(LanguageOptions())
    assert_that(result.kept | Unbatch() | beam.Map(lambda e: (e["text"], e["language"], e["uid"], e["url"])),
                equal_to([(e["text"], "en", e["uid"], e["url"]) for e in ELEMENTS[:2]]), label="kept")

    def reason(row):
        language = row["detail"].split(" ")[0]
        confidence = float(row["detail"].split("(")[1].rstrip(")"))
        return row["text"], row["stage"], row["reason"], language, confidence > 0.5 or language == "und"

    assert_that(result.rejected | Unbatch() | beam.Map(reason),
                equal_to([(GERMAN, "language", "language", "de", True), (FRENCH, "language", "language", "fr", True),
                          ("", "language", "language", "und", True)]), label="rejected")
    outcome = pipeline.run()
    outcome.wait_until_finish()
    counters = {c.key.metric.name: c.committed
                for c in outcome.metrics().query(MetricsFilter().with_namespace("wit.language"))["counters"]}
    assert counters == {"in": 5, "out": 2, "dropped.language": 3}


def test_all_keeps_everything_and_annotates():
    pipeline, result = _run(LanguageOptions(keep=ALL))
    assert_that(result.kept | Unbatch() | beam.Map(lambda e: (e["text"], e["language"])),
                equal_to([(ENGLISH[0], "en"), (ENGLISH[1], "en"), (GERMAN, "de"), (FRENCH, "fr"), ("", "und")]),
                label="kept")
    assert_that(result.rejected | Unbatch(), equal_to([]), label="rejected")
    pipeline.run().wait_until_finish()


def test_several_batches_and_langdetect_backend():
    # More than one batch of BATCH texts, and the other backend through the same transform.
    elements = [candidate(f"http://example.com/{i}.jpg", TEXTS[i % 4]) for i in range(BATCH + 40)]
    expected = {"en": ENGLISH, "de": [GERMAN], "fr": [FRENCH]}
    language_of = {text: lang for lang, texts in expected.items() for text in texts}
    for backend in ("py3langid", "langdetect"):
        pipeline, result = _run(LanguageOptions(backend=backend, keep=("en", "de")), elements)
        assert_that(result.kept | Unbatch() | beam.Map(lambda e: (e["text"], e["language"])),
                    equal_to([(e["text"], language_of[e["text"]]) for e in elements
                              if language_of[e["text"]] != "fr"]), label="kept")
        assert_that(result.rejected | Unbatch() | beam.Map(lambda r: (r["text"], r["detail"].split(" ")[0])),
                    equal_to([(FRENCH, "fr")] * sum(e["text"] == FRENCH for e in elements)), label="rejected")
        pipeline.run().wait_until_finish()


def test_worker_threads_share_one_model():
    """DoFn copies in one worker process acquire one identifier (Beam's Shared): the n-gram model and the
    word lists, ~110 MB, are built once per process, not once per thread."""
    import pickle

    from transforms.language.beam import _Identify
    from transforms.language.options import LanguageOptions

    fn = _Identify(LanguageOptions(restrict=("de", "en")))
    copies = [pickle.loads(pickle.dumps(fn)) for _ in range(3)]
    for copy in copies:
        copy.setup()
    assert copies[0].identifier is copies[1].identifier is copies[2].identifier
    assert copies[0].identifier.words is not None and copies[0].identifier.languages == ("de", "en")
    other = _Identify(LanguageOptions(restrict=("de", "en"), words="off"))
    other.setup()
    assert other.identifier.words is None


def test_rejected_detail_says_why_no_candidate_was_taken():
    """A text in a script English is not written in, and a language outside the candidates, are 'und' with the
    reason in the rejected row's detail; with keep "all" they are kept as 'und' without the backend's note."""
    bengali, welsh = "সমস্ত মানুষ স্বাধীনভাবে সমান মর্যাদা", "Y mae gan bawb hawl i addysg."
    elements = [candidate(f"http://example.com/{i}.jpg", text) for i, text in enumerate([ENGLISH[0], bengali, welsh])]
    pipeline, result = _run(LanguageOptions(), elements)
    assert_that(result.kept | Unbatch() | beam.Map(lambda e: (e["text"], e["language"], any(k.startswith("_") for k in e))),
                equal_to([(ENGLISH[0], "en", False)]), label="kept")
    assert_that(result.rejected | Unbatch() | beam.Map(lambda r: (r["text"], r["reason"], r["detail"])),
                equal_to([(bengali, "language", "und (0.00): script Bengali, not en"),
                          (welsh, "language", "und (0.00): no candidate fits (en 0.38 among the candidates; "
                                              "nearest outside them: cy)")]), label="rejected")
    pipeline.run().wait_until_finish()
    pipeline, result = _run(LanguageOptions(keep=ALL), elements)
    assert_that(result.kept | Unbatch() | beam.Map(lambda e: (e["text"], e["language"], any(k.startswith("_") for k in e))),
                equal_to([(ENGLISH[0], "en", False), (bengali, "und", False), (welsh, "und", False)]),
                label="kept all")
    pipeline.run().wait_until_finish()
