import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from transforms.candidate import candidate, make_uid
from transforms.text.beam import CleanText
from transforms.text.core import TextOptions, clean, normalise, text_rejection, url_rejection
from transforms.beam_util import Batch, Unbatch

O = TextOptions()


@pytest.mark.parametrize("text, reason", [
    ("", "empty_text"), ("   ", "empty_text"), ("x", "text_too_short"), ("y" * 1001, "text_too_long"),
    ("IMG_1234.jpg", "filename_text"), ("DSC01234", "filename_text"), ("my-holiday photo 3.JPEG", "filename_text"),
    ("P1010001", "filename_text"), ("PXL_20230101_123456789", "filename_text"),
    ("https://example.com/a.png", "url_text"), ("www.example.com", "url_text"),
    ("12345", "number_text"), ("2019-05-04", "number_text"), ("#1", "number_text"),
    ("Logo", "placeholder_text"), ("image", "placeholder_text"), ("alt text", "placeholder_text"),
    ("Featured Image", "placeholder_text"), ("click here", "placeholder_text"),
])
def test_junk_texts_are_rejected_with_their_reason(text, reason):
    assert text_rejection(normalise(text), O)[0] == reason


@pytest.mark.parametrize("text", ["a dog on a beach", "Logo of the Olympic Games", "1984 by George Orwell",
                                  "東京タワー", "Eiffel Tower", "image of a cat"])
def test_real_captions_pass(text):
    assert text_rejection(normalise(text), O) is None


def test_normalisation_repairs_mojibake_and_whitespace():
    assert normalise("Ã©tÃ© Ã\u00a0\n  Paris ") == "été à Paris"
    assert normalise("Cafe\u0301") == "Café"  # NFC


@pytest.mark.parametrize("url, reason", [
    ("data:image/png;base64,AAA", "bad_url_scheme"), ("ftp://x/a.jpg", "bad_url_scheme"),
    ("/relative/a.jpg", "bad_url_scheme"), ("http:///a.jpg", "bad_url"), (None, "bad_url"),
    ("http://x/" + "a" * 3000, "url_too_long"),
])
def test_url_rules(url, reason):
    assert url_rejection(url, O)[0] == reason
    assert url_rejection("https://example.com/a.jpg", O) is None


def test_clean_recomputes_the_uid_from_the_normalised_text():
    raw = candidate("http://x/a.jpg", "  a   dog ")
    cleaned, verdict = clean(raw, O)
    assert verdict is None and cleaned["text"] == "a dog" and cleaned["raw_uid"] == raw["uid"]
    assert cleaned["uid"] == make_uid("http://x/a.jpg", "a dog")


def test_clean_text_transform():
    elements = [candidate("http://x/a.jpg", "a dog"), candidate("http://x/b.jpg", "IMG_0001.JPG"),
                candidate("data:image/png;base64,AA", "a cat")]
    with TestPipeline(argv=["--runner=FnApiRunner"]) as p:
        result = p | beam.Create(elements) | Batch() | CleanText()
        assert_that(result["kept"] | Unbatch() | beam.Map(lambda e: e["text"]), equal_to(["a dog"]), label="kept")
        assert_that(result["rejected"] | Unbatch() | beam.Map(lambda r: (r["url"][:5], r["reason"])),
                    equal_to([("http:", "filename_text"), ("data:", "bad_url_scheme")]), label="rejected")


def test_ftfy_shortcut_gives_ftfys_answer():
    """Texts of printable ASCII without "&" skip ftfy: it must leave every such text unchanged."""
    import random

    import ftfy

    from transforms.text import core

    rng = random.Random(5)
    plain = [chr(c) for c in range(0x20, 0x7F) if chr(c) != "&"]
    texts = ["".join(rng.choice(plain) for _ in range(rng.randint(0, 30))) for _ in range(20_000)]
    texts += ["IMG_1234.jpg", "a  dog ", "%20 +=~{}|", "\\u00e9 \\x41", "<b>bold</b>", "'quoted' \"x\""]
    for text in texts:
        assert core._FTFY_MAY_CHANGE.search(text) is None
        assert ftfy.fix_text(text, normalization="NFC") == text
    # and the others do reach ftfy: entities, mojibake, controls, line breaks
    for text, fixed in [("fish &amp; chips", "fish & chips"), ("cafÃ©", "café"), ("a\x00b", "ab"),
                        ("ﬁsh", "fish"), ("line\r\nbreak", "line break")]:
        assert core._FTFY_MAY_CHANGE.search(text) is not None
        assert core.normalise(text) == fixed
