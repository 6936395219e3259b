"""Text datasets: a corpus of lines, split into a fixed train and test part, encoded as token ids.

    text_dataset("names")                      the bundled 1990 US Census first names, character level
    text_dataset("poems.txt", level="word")    your own UTF-8 text file, one text per line, word level
    text_dataset("molecules")                  RDKit's 4,999 NCI molecules as SELFIES tokens (level="smiles": SMILES)
    text_dataset("drugs.smi", level="smiles")  your own molecules, a .smi or .csv file of SMILES

What happens, in order:

1. the lines are read: the bundled names (``census_first_names``, 5,163 of them), or the lines of a UTF-8 file (a
   file in another encoding is refused with the line that cannot be decoded); for molecules (level "smiles" or
   "selfies"), their canonical strings (``minivae.datasets.molecules.molecule_strings``: SMILES RDKit cannot parse,
   duplicates and molecules longer than ``max_length`` are counted and left out, never cut);
2. empty lines (and lines of only whitespace) are dropped and counted; the rest are shuffled with ``seed`` and
   split: a ``test_fraction`` of them (at least 2) is the test part, the same on every machine;
3. the vocabulary is built on the training part only (characters, or the ``max_vocab`` most frequent words), or
   taken as recorded when a checkpoint's data are rebuilt, so the ids keep their meaning. For molecules it is the
   tokens of both parts: a token seen only in a test molecule would become <unk>, and a string with an <unk> is no
   molecule (knowing the alphabet tells nothing of which molecules are in the test part);
4. both parts are encoded (``Vocabulary.encode``): tokens outside the vocabulary become <unk>, texts longer than
   ``max_length`` tokens (counting <bos> and <eos>) are cut, and every count is reported, never hidden.

Returns a Dataset whose x_train (N, T) and x_test (M, T') are int64 token ids, <bos> first and <pad> (0) at the
end, and whose ``encoder`` is the Vocabulary.

Example
-------
>>> data = text_dataset("names")
>>> data.x_train.shape, len(data.encoder)
((4647, 13), 30)
"""
from pathlib import Path

import numpy as np

from minivae.datasets.dataset import Dataset, tell
from minivae.datasets.molecules import MOLECULE_CORPORA, MOLECULE_MAX_LENGTH, REPRESENTATIONS, molecule_strings
from minivae.datasets.text import LEVELS, Vocabulary, census_first_names, read_text_lines

TEXT_CORPORA = ("names", *MOLECULE_CORPORA)  # the text datasets known by name (others are paths of text files)
DEFAULT_MAX_LENGTH = 64  # the longest sequence kept, in tokens with <bos> and <eos>: longer texts are cut


def text_dataset(source="names", level=None, max_length=None, max_vocab=None, vocabulary=None, test_fraction=0.1,
                 seed=0, invalid="skip"):
    """A corpus as a Dataset of token ids, by the steps of the module docstring.

    Parameters
    ----------
    source : "names" or the path of a UTF-8 text file (one text per line)
    level : "char" or "word", or for molecules "smiles" or "selfies"; default "char" for the names, "selfies" for
        "molecules", "word" for a file
    max_length : the longest sequence in tokens, <bos> and <eos> included (longer texts are cut and counted; longer
        molecules left out); default DEFAULT_MAX_LENGTH for text, MOLECULE_MAX_LENGTH for molecules
    max_vocab : keep only the most frequent tokens (words) of the training part; the others become <unk>
    vocabulary : a recorded Vocabulary (or its ``config()`` dict) to encode with, instead of building one
    test_fraction, seed : the split
    invalid : molecules only: "skip" SMILES that RDKit cannot parse (counted and reported) or "refuse" the file
    """
    if vocabulary is not None:
        vocab = vocabulary if isinstance(vocabulary, Vocabulary) else Vocabulary.from_config(vocabulary)
        if level is not None and level != vocab.level:
            raise ValueError(f"the recorded vocabulary is of level {vocab.level!r}, not {level!r}")
        level = vocab.level
    level = level or _DEFAULT_LEVEL.get(source, "word")
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    if source in MOLECULE_CORPORA and level not in REPRESENTATIONS:
        raise ValueError(f"{source} are molecules: level (their representation) is one of {REPRESENTATIONS}, "
                         f"not {level!r}")
    if level in REPRESENTATIONS:
        max_length = max_length or MOLECULE_MAX_LENGTH
        texts, name, note = molecule_strings(source, level, max_length, invalid)
        tell(note)
    else:
        max_length = max_length or DEFAULT_MAX_LENGTH
        texts, name = _read(source)
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction}")
    lines = [t for t in texts if t.strip()]
    n_empty = len(texts) - len(lines)
    if len(lines) < 3:
        raise ValueError(f"{name} has {len(lines)} non-empty line{'s' * (len(lines) != 1)} ({n_empty} empty): a "
                         "text corpus needs at least 3 (one text per line), to train on some and test on 2")
    order = np.random.default_rng(seed).permutation(len(lines))
    n_test = max(2, int(round(test_fraction * len(lines))))
    test = [lines[i] for i in order[:n_test]]
    train = [lines[i] for i in order[n_test:]]
    if vocabulary is None:  # molecules: the alphabet of both parts (a molecule with an <unk> is no molecule)
        vocab = Vocabulary.build(train + test if level in REPRESENTATIONS else train, level=level, max_size=max_vocab)
    encoded_train, encoded_test = vocab.encode(train, max_length), vocab.encode(test, max_length)
    report = _report(name, n_empty, encoded_train.report, encoded_test.report, max_length)
    tell(report)
    return Dataset(name=name, x_train=encoded_train.ids, y_train=None, x_test=encoded_test.ids, y_test=None,
                   image_shape=None, description=f"{_DESCRIPTIONS.get(source, f'the lines of {name}')}; {report}",
                   encoder=vocab)


_DEFAULT_LEVEL = {"names": "char", "molecules": "selfies"}
_DESCRIPTIONS = {"names": "the 1990 US Census first names (public domain), bundled with minivae",
                 "molecules": "RDKit's NCI first 5K molecules (public domain), shipped with RDKit"}


def _read(source):
    """(lines, name) of a corpus name or a text file."""
    if source == "names":
        return census_first_names(), "names"
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"no text file {source}: give the path of a UTF-8 text file (one text per line) "
                                f"or one of the bundled corpora: {', '.join(TEXT_CORPORA)}")
    return read_text_lines(path), str(source)


def _report(name, n_empty, train, test, max_length):
    """One line: how many texts each part has and what encoding did to them."""
    truncated, unknown = train.n_truncated + test.n_truncated, train.n_unknown + test.n_unknown
    cut = f"{_count(truncated, 'text')} cut to {max_length} tokens" if max_length else "no length limit"
    return (f"{name}: {len(train.kept)} train / {len(test.kept)} test texts; "
            f"{_count(n_empty, 'empty line')} skipped, {cut}, "
            f"{_count(unknown, 'token')} outside the vocabulary as <unk> ({test.n_unknown} of them in the test part)")


def _count(n, noun):
    """'1 token', '2 tokens': a count with its noun in the right number."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
