"""Text as token ids: the vocabulary, encoding with its report (empty lines, <unk>, truncation), decoding back."""
import numpy as np
import pytest

from minivae.datasets.text import (BOS_ID, EOS_ID, PAD_ID, UNK_ID, Vocabulary, read_census_names,
                                   read_text_lines)

WORDS = ["ann", "bob", "cara", "", "  ", "dan"]


def test_specials_have_fixed_ids_and_the_corpus_follows():
    vocab = Vocabulary.build(WORDS)
    assert vocab.tokens[:4] == ["<pad>", "<bos>", "<eos>", "<unk>"]
    assert (PAD_ID, BOS_ID, EOS_ID, UNK_ID) == (0, 1, 2, 3)
    assert vocab.tokens[4:] == sorted(set("annbobcaradan"))


def test_encode_pads_at_the_end_with_a_mask_and_decode_inverts_it():
    vocab = Vocabulary.build(WORDS)
    batch = vocab.encode(WORDS)
    assert batch.ids.shape == batch.mask.shape == (4, 6)  # <bos> c a r a <eos>
    assert batch.report.n_empty == 2 and batch.report.kept == [0, 1, 2, 5]
    assert batch.lengths.tolist() == [5, 5, 6, 5]
    assert (batch.ids[:, 0] == BOS_ID).all()
    assert (batch.mask == (batch.ids != PAD_ID)).all()
    assert batch.ids[0].tolist()[-2:] == [EOS_ID, PAD_ID]
    assert vocab.decode(batch.ids) == ["ann", "bob", "cara", "dan"]
    assert vocab.decode(batch.ids[0]) == "ann"


def test_unknown_characters_become_unk_and_are_counted():
    vocab = Vocabulary.build(["ab"])
    batch = vocab.encode(["abz", "zz"])
    assert batch.report.n_unknown == 3
    assert batch.ids[1].tolist() == [BOS_ID, UNK_ID, UNK_ID, EOS_ID, PAD_ID]
    assert vocab.decode(batch.ids) == ["ab<unk>", "<unk><unk>"]


def test_truncation_is_reported_and_a_cut_sequence_has_no_eos():
    vocab = Vocabulary.build(["abcdef"])
    batch = vocab.encode(["abcdef", "ab"], max_length=4)
    assert batch.ids.shape == (2, 4) and batch.report.n_truncated == 1
    assert vocab.decode(batch.ids) == ["abc", "ab"]
    assert EOS_ID not in batch.ids[0]
    assert "1 truncated" in str(batch.report)
    with pytest.raises(ValueError, match="max_length"):
        vocab.encode(["ab"], max_length=1)


def test_an_empty_corpus_is_refused_with_a_message():
    with pytest.raises(ValueError, match="empty"):
        Vocabulary.build(["", "   "])
    with pytest.raises(ValueError, match="no text to encode"):
        Vocabulary.build(["a"]).encode(["", "\n"])


def test_word_level_with_a_vocabulary_cap():
    text = ["the cat sat", "the dog sat", "a cat"]
    vocab = Vocabulary.build(text, level="word", max_size=3)
    assert vocab.tokens[4:] == ["cat", "sat", "the"]  # the 3 most frequent; ties in alphabetical order
    batch = vocab.encode(text)
    assert batch.report.n_unknown == 2  # dog, a
    assert vocab.decode(batch.ids) == ["the cat sat", "the <unk> sat", "<unk> cat"]


def test_config_round_trip():
    vocab = Vocabulary.build(WORDS)
    again = Vocabulary.from_config(vocab.config())
    assert again.tokens == vocab.tokens and again.level == vocab.level


def test_decode_refuses_ids_outside_the_vocabulary():
    with pytest.raises(ValueError, match="vocabulary"):
        Vocabulary.build(["ab"]).decode(np.array([[1, 99]]))


def test_a_file_that_is_not_utf8_is_refused_naming_the_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"ok\nfine\n\xff\xfe\n")
    with pytest.raises(ValueError, match="line 3"):
        read_text_lines(path)
    path.write_text("a\nb\n", encoding="utf-8")
    assert read_text_lines(path) == ["a", "b"]


def test_census_name_files_are_read_in_their_format(tmp_path):
    path = tmp_path / "dist.male.first"
    path.write_text("JAMES          3.318  3.318      1\nJOHN           3.271  6.589      2\n", encoding="ascii")
    assert read_census_names(path) == ["james", "john"]
    path.write_text("not a census line\n", encoding="ascii")
    with pytest.raises(ValueError, match="line 1"):
        read_census_names(path)
