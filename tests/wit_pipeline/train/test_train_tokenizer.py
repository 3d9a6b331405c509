import pytest

from wit_pipeline.train.tokenizer import Tokenizer, train_tokenizer

CAPTIONS = ["a dog on the beach", "a red car in the city", "Ein Hund im Park", "a cat sleeping on a sofa",
            "two dogs playing with a ball"] * 20


def test_encode_layout_start_end_and_padding():
    tok = train_tokenizer(CAPTIONS, vocab_size=400, context_length=16)
    ids = tok.encode(["a dog on the beach", ""])
    assert ids.shape == (2, 16) and ids.dtype.name == "int64"
    row = list(ids[0])
    assert row[0] == tok.sot_id
    end = row.index(tok.eot_id)
    assert end > 1 and all(i == 0 for i in row[end + 1:])
    assert list(ids[1][:3]) == [tok.sot_id, tok.eot_id, 0]
    assert tok.decode(row).strip() == "a dog on the beach"


def test_long_caption_is_cut_but_keeps_its_end_token():
    tok = train_tokenizer(CAPTIONS, vocab_size=400, context_length=8)
    row = tok.encode(["a dog " * 50])[0]
    assert row[0] == tok.sot_id and row[-1] == tok.eot_id and 0 not in row


def test_lower_cases_normalises_and_never_fails_on_unseen_characters():
    tok = train_tokenizer(CAPTIONS, vocab_size=400, context_length=32)
    assert (tok.encode(["A DOG"]) == tok.encode(["a dog"])).all()
    assert (tok.encode(["Caf\u0065\u0301"]) == tok.encode(["Caf\u00e9"])).all()  # NFC
    text = "猫と犬 🐕"  # never seen: byte-level BPE has no unknown token
    assert tok.decode(tok.encode([text])[0]).strip() == text


def test_save_and_load_give_the_same_ids(tmp_path):
    tok = train_tokenizer(CAPTIONS, vocab_size=400, context_length=20)
    tok.save(str(tmp_path / "tok.json"))
    again = Tokenizer.load(str(tmp_path / "tok.json"), 20)
    assert again.vocab_size == tok.vocab_size
    assert (again.encode(CAPTIONS[:5]) == tok.encode(CAPTIONS[:5])).all()


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="no captions"):
        train_tokenizer(["", ""], vocab_size=400)
    with pytest.raises(ValueError, match="at least 259"):
        train_tokenizer(CAPTIONS, vocab_size=100)
    with pytest.raises(ValueError, match="context_length"):
        train_tokenizer(CAPTIONS, vocab_size=400, context_length=2)


def test_special_token_text_in_a_caption_is_plain_text():
    tok = train_tokenizer(CAPTIONS, vocab_size=400, context_length=32)
    row = list(tok.encode(["a dog <|endoftext|> and <|pad|> a cat"])[0])
    assert row.count(tok.eot_id) == 1 and row.index(tok.eot_id) > 10  # only the real end token
    assert 0 not in row[:row.index(tok.eot_id)]
