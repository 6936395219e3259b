"""Text datasets (minivae.datasets.corpus): the bundled names, a user's text file, the fixed split, and bad input."""
import gzip

import numpy as np
import pytest

from minivae.datasets.corpus import text_dataset
from minivae.datasets.text import BOS_ID, PAD_ID, UNK_ID, census_first_names


def test_the_bundled_census_names_are_the_5163_unique_first_names():
    names = census_first_names()
    assert len(names) == 5163 and names == sorted(set(names))
    assert {"mary", "james", "john"} <= set(names)
    assert set("".join(names)) == set("abcdefghijklmnopqrstuvwxyz")


def test_the_names_split_is_fixed_and_disjoint(capsys):
    a, b = text_dataset("names"), text_dataset("names")
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.x_test, b.x_test)
    assert (len(a.x_train), len(a.x_test)) == (4647, 516)
    train, test = set(a.encoder.decode(a.x_train)), set(a.encoder.decode(a.x_test))
    assert not train & test and len(train | test) == 5163
    assert a.x_train.dtype == np.int64 and (a.x_train[:, 0] == BOS_ID).all()
    assert a.encoder.level == "char" and len(a.encoder) == 30  # 4 specials + 26 letters
    assert "4647 train / 516 test texts" in capsys.readouterr().out  # the report is said, not hidden
    assert text_dataset("names", seed=1).encoder.decode(text_dataset("names", seed=1).x_test) != \
        a.encoder.decode(a.x_test)


def test_a_text_file_is_read_at_word_level_with_counts_of_what_was_changed(tmp_path, capsys):
    lines = ["the cat sat", "", "   ", "the dog sat on the mat today", "a cat", "the end", "one more line here"]
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    data = text_dataset(path, max_length=5, test_fraction=0.4, seed=0)
    out = capsys.readouterr().out
    assert data.encoder.level == "word"
    assert len(data.x_train) + len(data.x_test) == 5  # the two blank lines skipped
    assert "2 empty lines skipped" in out and "texts cut to 5 tokens" in out
    assert data.x_train.shape[1] <= 5 and data.x_test.shape[1] <= 5
    vocab_words = set(data.encoder.tokens[4:])
    train_words = {w for t in data.encoder.decode(data.x_train) for w in t.split()}
    assert train_words <= vocab_words | {"<unk>"}  # the vocabulary is the training part's


def test_words_outside_the_training_vocabulary_become_unk_and_are_counted(tmp_path, capsys):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(f"line {i}" for i in range(20)), encoding="utf-8")  # every number is a new word
    data = text_dataset(path, test_fraction=0.2)
    assert (data.x_test == UNK_ID).sum() == 4  # each test line's number was never seen in training
    assert "4 of them in the test part" in capsys.readouterr().out


def test_a_max_vocab_keeps_the_most_frequent_words(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(["a a a b b c"] * 10), encoding="utf-8")
    data = text_dataset(path, max_vocab=2)
    assert data.encoder.tokens[4:] == ["a", "b"] and (data.x_train == UNK_ID).any()


def test_a_recorded_vocabulary_keeps_the_ids(tmp_path):
    first = text_dataset("names")
    again = text_dataset("names", vocabulary=first.encoder.config())
    assert np.array_equal(first.x_test, again.x_test) and again.encoder.tokens == first.encoder.tokens
    with pytest.raises(ValueError, match="level 'char', not 'word'"):
        text_dataset("names", level="word", vocabulary=first.encoder.config())


@pytest.mark.parametrize("content, message", [
    (b"", "0 non-empty lines"),
    (b"\n\n  \n", "0 non-empty lines \\(3 empty\\)"),
    (b"one\ntwo\n", "2 non-empty lines"),
    (b"caf\xe9 au lait\nthe second line\nthird\n", "not utf-8 text: byte 3 \\(line 1\\)"),
])
def test_bad_corpora_are_refused_with_one_clear_line(tmp_path, content, message):
    path = tmp_path / "corpus.txt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        text_dataset(path)


def test_a_missing_file_and_bad_options_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="no text file .*names"):
        text_dataset(tmp_path / "nope.txt")
    with pytest.raises(ValueError, match="level must be one of"):
        text_dataset("names", level="byte")
    with pytest.raises(ValueError, match="test_fraction"):
        text_dataset("names", test_fraction=1.0)


def test_a_damaged_bundled_file_is_refused(tmp_path, monkeypatch):
    import minivae.datasets.text as text

    real = text.Path(text.__file__).parent / "files"
    fake = tmp_path / "files"
    fake.mkdir()
    (fake / "dist.male.first.gz").write_bytes((real / "dist.male.first.gz").read_bytes())
    (fake / "dist.female.first.gz").write_bytes(gzip.compress(b"MARY 2.629 2.629 1\n"))
    monkeypatch.setattr(text, "__file__", str(tmp_path / "text.py"))
    with pytest.raises(ValueError, match="dist.female.first.gz is damaged"):
        census_first_names()


def test_padding_only_at_the_end():
    data = text_dataset("names")
    mask = data.x_train != PAD_ID
    assert not (mask[:, 1:] & ~mask[:, :-1]).any()


def test_trim_padding_keeps_the_longest_row_and_at_least_two_columns():
    from minivae.datasets.text import trim_padding

    ids = np.array([[1, 5, 2, 0, 0, 0], [1, 2, 0, 0, 0, 0]])
    assert trim_padding(ids).tolist() == [[1, 5, 2], [1, 2, 0]]
    assert trim_padding(np.array([[1, 0, 0]])).shape == (1, 2)
