"""Text as token ids: a vocabulary of characters or words, encoding to padded (N, T) ids with a mask, and back.

A sequence model reads a batch of N texts as an (N, T) array of integer ids, each text written as

    <bos> t_1 t_2 ... t_n <eos> <pad> ... <pad>          (padded at the end to the common length T)

with the mask (N, T) True at every real token (<bos> and <eos> included) and False at padding. The four special
tokens have fixed ids: <pad> = 0, <bos> = 1, <eos> = 2, <unk> = 3; the corpus's tokens follow, from id 4.

What encoding does with awkward input is reported, never hidden (``EncodeReport``):

- an empty line (or one of only whitespace) is skipped and counted; every line is stripped of surrounding whitespace;
- a token outside the vocabulary becomes <unk> and is counted;
- a text longer than ``max_length`` (which counts <bos> and <eos>) is cut to <bos> + its first max_length - 1
  tokens, *without* <eos> (it did not end there), and counted.

Character level is the default (``Vocabulary.build(texts)``); word level splits on whitespace and can keep only the
``max_size`` most frequent words (``Vocabulary.build(texts, level="word", max_size=10000)``). The levels "smiles"
and "selfies" read chemical strings, one token per atom, bond or SELFIES symbol (``minivae.datasets.molecules``).

A real corpus, bundled: the 1990 US Census first-name lists (public domain), the files ``dist.male.first`` and
``dist.female.first`` as the ``names`` package on PyPI ships them, gzip-compressed in ``minivae/datasets/files/``
(their README gives the source and the checksums). ``census_first_names()`` returns the 5,163 unique names;
``read_census_names(path)`` reads one such file.

Example
-------
>>> vocab = Vocabulary.build(["ann", "bob"])
>>> batch = vocab.encode(["ann", "bo"])
>>> batch.ids.tolist()
[[1, 4, 6, 6, 2], [1, 5, 7, 2, 0]]
>>> vocab.decode(batch.ids)
['ann', 'bo']
"""
import gzip
import hashlib
from collections import Counter
from dataclasses import dataclass, field

from pathlib import Path

import numpy as np

from minivae.datasets.molecules import selfies_tokens, smiles_tokens

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)
PAD_ID, BOS_ID, EOS_ID, UNK_ID = 0, 1, 2, 3
LEVELS = ("char", "word", "smiles", "selfies")  # the molecular levels' tokens: minivae.datasets.molecules


@dataclass
class EncodeReport:
    """What encoding did to its input: counts of texts and tokens that were not taken as they were."""

    n_texts: int  # texts given
    n_empty: int  # empty lines, skipped
    n_truncated: int  # texts cut to max_length
    n_unknown: int  # tokens outside the vocabulary, written as <unk>
    kept: list = field(default_factory=list)  # the index in the input of each encoded row

    def __str__(self):
        return (f"{len(self.kept)} of {self.n_texts} texts encoded: {self.n_empty} empty skipped, "
                f"{self.n_truncated} truncated, {self.n_unknown} unknown tokens as <unk>")


@dataclass
class EncodedText:
    """ids (N, T) int64, mask (N, T) bool (True at a real token), lengths (N,) with <bos> and <eos>, the report."""

    ids: np.ndarray
    mask: np.ndarray
    lengths: np.ndarray
    report: EncodeReport


class Vocabulary:
    """The tokens of a corpus and their ids: the four specials first (<pad> = 0, <bos>, <eos>, <unk>), then the rest.

    tokens : the list of tokens, id -> token, beginning with SPECIALS    level : one of LEVELS

    Build one from a corpus with ``Vocabulary.build``; ``len(vocab)`` is the vocabulary size V of a model's output.

    Example
    -------
    >>> vocab = Vocabulary.build(["the cat", "the dog"], level="word", max_size=2)
    >>> vocab.tokens[4:], vocab.decode(vocab.encode(["the dog"]).ids)
    (['the', 'cat'], ['the <unk>'])
    """

    def __init__(self, tokens, level="char"):
        tokens = list(tokens)
        if tuple(tokens[:4]) != SPECIALS:
            raise ValueError(f"a vocabulary must begin with the special tokens {SPECIALS}, got {tokens[:4]}")
        if level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
        if len(set(tokens)) != len(tokens):
            raise ValueError("a vocabulary cannot hold a token twice")
        self.tokens, self.level = tokens, level
        self.index = {t: i for i, t in enumerate(tokens)}

    @classmethod
    def build(cls, texts, level="char", max_size=None):
        """The vocabulary of a corpus: every token it uses, or the ``max_size`` most frequent (ties alphabetically);
        characters in sorted order, words most frequent first.

        max_size counts the corpus's tokens, not the four specials. Raises ValueError on a corpus with no token.
        """
        counts = Counter()
        for text in texts:
            counts.update(_tokenize(_clean(text), level))
        if not counts:
            raise ValueError("the corpus is empty (no text has a token): nothing to build a vocabulary from")
        if max_size is not None and (isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1):
            raise ValueError(f"max_size must be a positive integer or None, got {max_size!r}")
        ranked = sorted(counts, key=lambda t: (-counts[t], t))[:max_size]
        if level != "word":
            ranked = sorted(ranked)  # characters and chemical tokens read best in order: a, b, c, ...
        return cls(SPECIALS + tuple(t for t in ranked if t not in SPECIALS), level)

    def __len__(self):
        return len(self.tokens)

    def tokenize(self, text):
        """A text's tokens: its characters, its whitespace-separated words, or its SMILES or SELFIES tokens
        (surrounding whitespace stripped)."""
        return _tokenize(_clean(text), self.level)

    def encode(self, texts, max_length=None):
        """Texts -> EncodedText: ids and mask (N, T), padded at the end; T = the longest kept sequence.

        max_length : the longest sequence, <bos> and <eos> included (>= 2), or None for no limit. See the module
        docstring for empty lines, unknown tokens and truncation; ``result.report`` counts each.
        Raises ValueError when no text is left to encode.
        """
        texts = [texts] if isinstance(texts, str) else list(texts)
        if max_length is not None and (isinstance(max_length, bool) or not isinstance(max_length, int)
                                       or max_length < 2):
            raise ValueError(f"max_length counts <bos> and <eos> and must be an integer >= 2, got {max_length!r}")
        rows, kept, n_empty, n_truncated, n_unknown = [], [], 0, 0, 0
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"text {i} is a {type(text).__name__}, not a str")
            tokens = self.tokenize(text)
            if not tokens:
                n_empty += 1
                continue
            ids = [self.index.get(t, UNK_ID) for t in tokens]
            n_unknown += sum(1 for t in tokens if t not in self.index)
            if max_length is not None and len(ids) + 2 > max_length:
                n_truncated += 1
                row = [BOS_ID] + ids[:max_length - 1]
            else:
                row = [BOS_ID] + ids + [EOS_ID]
            rows.append(row)
            kept.append(i)
        report = EncodeReport(len(texts), n_empty, n_truncated, n_unknown, kept)
        if not rows:
            raise ValueError(f"no text to encode: {report}")
        lengths = np.array([len(r) for r in rows], dtype=np.int64)
        ids = np.full((len(rows), int(lengths.max())), PAD_ID, dtype=np.int64)
        for n, row in enumerate(rows):
            ids[n, :len(row)] = row
        mask = np.arange(ids.shape[1])[None, :] < lengths[:, None]
        return EncodedText(ids, mask, lengths, report)

    def decode(self, ids):
        """ids (N, T) (or one row (T,)) -> N strings: a leading <bos> dropped, read up to the first <eos> or <pad>.

        <unk> is written as "<unk>"; words are joined with one space, characters with none.
        """
        ids = np.asarray(ids)
        if ids.dtype.kind not in "iu" or ids.ndim not in (1, 2):
            raise ValueError(f"ids must be integer token ids of shape (N, T) or (T,), got {ids.dtype} {ids.shape}")
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            raise ValueError(f"ids must lie in [0, {len(self)}), the vocabulary; got values in "
                             f"[{ids.min()}, {ids.max()}]")
        if ids.ndim == 1:
            return self.decode(ids[None])[0]
        sep = " " if self.level == "word" else ""
        out = []
        for row in ids.tolist():
            if row and row[0] == BOS_ID:
                row = row[1:]
            tokens = []
            for i in row:
                if i in (EOS_ID, PAD_ID):
                    break
                tokens.append(self.tokens[i])
            out.append(sep.join(tokens))
        return out

    def config(self):
        """The vocabulary as a JSON-able dict (a checkpoint can store it); ``Vocabulary.from_config`` reads it."""
        return {"tokens": list(self.tokens), "level": self.level}

    @classmethod
    def from_config(cls, config):
        return cls(config["tokens"], config.get("level", "char"))

    def __repr__(self):
        return f"Vocabulary({len(self)} tokens, level={self.level!r})"


def trim_padding(ids):
    """ids (N, T) without the trailing columns that are <pad> in every row: (N, T') with T' the longest row (at
    least 2). A batch of short texts drawn from a corpus with a few long ones then costs only its own length."""
    longest = int((np.asarray(ids) != PAD_ID).sum(axis=1).max(initial=0))
    return ids[:, :max(2, longest)]


def _clean(text):
    return text.strip()


def _tokenize(text, level):
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    if level == "smiles":
        return smiles_tokens(text)
    if level == "selfies":
        return selfies_tokens(text)
    return list(text) if level == "char" else text.split()


def read_text_lines(path, encoding="utf-8"):
    """The lines of a text file (line ends removed), or a ValueError naming the line that is not ``encoding``."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as err:
        line = raw[:err.start].count(b"\n") + 1
        raise ValueError(f"{path} is not {encoding} text: byte {err.start} (line {line}) cannot be decoded; "
                         "re-save the file as UTF-8 or pass its encoding") from None
    return text.splitlines()


def read_census_names(path):
    """The names of one 1990 US Census name file (``dist.male.first``: "JAMES  3.318  3.318  1" per line), lowercase,
    in the file's order (most frequent first)."""
    return _census_names(read_text_lines(path, "ascii"), path)


def _census_names(lines, path):
    names = []
    for number, line in enumerate(lines, start=1):
        words = line.split()
        if not words:
            continue
        if len(words) != 4 or not words[0].isalpha() or not all(_is_number(w) for w in words[1:]):
            raise ValueError(f"{path}, line {number}: expected NAME FREQUENCY CUMULATIVE RANK, got {line!r}")
        names.append(words[0].lower())
    return names


def _is_number(word):
    try:
        float(word)
    except ValueError:
        return False
    return True


CENSUS_FILES = {  # file -> SHA-256 of its uncompressed bytes (the files as the ``names`` package 0.3.0 ships them)
    "dist.male.first": "0a5078ef6effe3b483d15b0f7f95047662126c9bfb624ecd5e5b978fc0f2470b",
    "dist.female.first": "bd2f310fc4e5d5e5ea122c9d4342c9821145823118eb20db1647f305ec77b358",
}


def census_first_names():
    """The unique first names of the 1990 US Census (male and female lists; public domain), sorted, lowercase.

    Read from the copies bundled in ``minivae/datasets/files/``; their contents are checked against CENSUS_FILES.
    """
    folder = Path(__file__).parent / "files"
    names = set()
    for name, sha256 in CENSUS_FILES.items():
        path = folder / f"{name}.gz"
        raw = gzip.decompress(path.read_bytes())
        if hashlib.sha256(raw).hexdigest() != sha256:
            raise ValueError(f"{path} is damaged (its SHA-256 differs from the bundled file's); reinstall minivae")
        names |= set(_census_names(raw.decode("ascii").splitlines(), path))
    return sorted(names)
