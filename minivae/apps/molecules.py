"""Judging generated molecules: are the strings molecules, are they new, how varied, and do their properties look
like the data's? The numbers of the MOSES benchmark (Polykovskiy et al. 2020), computed with RDKit.

A model of SMILES or SELFIES strings samples text; RDKit reads it as a molecule, or fails to. Each metric answers
one question and each can be fooled, so read them together.

    validity      = n_valid / n_samples
        valid: RDKit parses and sanitizes it into a molecule of at least one atom ("" is none). Misses: a valid
        molecule can be strained, unstable or impossible to make; and almost every SELFIES string decodes to some
        valid molecule by construction (Krenn et al. 2020), so for SELFIES the other numbers tell more.
    uniqueness    = n_unique / n_valid
        distinct molecules among the valid ones, by canonical SMILES (one string per molecule: "OCC" and "CCO" are
        both ethanol, "CCO"). Misses: it falls as more samples are drawn, so compare it at the same number (MOSES
        reports unique@1k and unique@10k, of the first k valid samples).
    novelty       = n_novel / n_unique
        the distinct valid molecules whose canonical SMILES is not in the training set. Misses: random molecules
        are all novel; and identity is exact: one atom away from a training molecule, or another stereoisomer, is new.
    internal diversity = 1 - mean_{i < j} T(f_i, f_j)
        over the distinct pairs of n molecules, with f_i the Morgan fingerprint of molecule i (the circular
        substructures up to ``radius`` bonds, hashed into ``n_bits`` bits; radius 2 is ECFP4) and T the Tanimoto
        similarity of two bit sets, T(a, b) = |a AND b| / |a OR b|. 0 when all molecules are the same, near 1 when
        they share no substructure. Misses: garbage is diverse; compare with the data's own (MOSES's training set:
        0.857). MOSES's IntDiv1 averages over all n^2 ordered pairs, each molecule with itself included (T = 1):
            IntDiv1 = 1 - (1/n^2) sum_{i, j} T_ij = 1 - (n + n (n - 1) (1 - D)) / n^2 = (n - 1) / n * D
        for D, the value here, on the same n molecules; MOSES also uses 1024 bits and keeps duplicate samples.
    property distributions: QED, logP, molecular weight of the valid samples against the data's, each compared by
    the Wasserstein-1 (earth mover's) distance in the property's own units,
            W1(P, Q) = integral_0^1 |F_P^{-1}(u) - F_Q^{-1}(u)| du = integral |F_P(x) - F_Q(x)| dx,
        the area between the quantile functions (or the CDFs): how far, on average, probability must be moved to
        turn one distribution into the other. QED (Bickerton et al. 2012) scores drug-likeness in [0, 1]; logP
        (Wildman & Crippen 1999) estimates log10 of the octanol-water partition coefficient. Misses: one property at
        a time (matching marginals are not a matching joint), and copying the training set matches them all. The
        samples' values include duplicates, as in MOSES; MOSES compares with its test set, we default to training.

RDKit and selfies are optional (``pip install 'minivae[molecules]'``), imported when a function needs them.

Example
-------
>>> m = molecule_metrics(["CCO", "OCC", "C1CC", "c1ccccc1"], "smiles", train_smiles=["CCO", "CCN"])
>>> m["validity"], m["uniqueness"], m["novelty"]              # 3 of 4 valid, 2 distinct, benzene is new
(0.75, 0.6666666666666666, 0.5)
>>> print(metrics_table(m, anchors=MOSES_VAE).splitlines()[3])   # the whole table: print(metrics_table(m))
| validity | 0.75 (3 of 4) | 0.9767 | fraction of the samples RDKit reads as a molecule |
"""
import math
import re
from types import SimpleNamespace

import numpy as np

from minivae.datasets.molecules import REPRESENTATIONS, rdkit_conventions
from minivae.extras import require
from minivae.validation import check_positive_int

# The SMILES VAE in the MOSES README's table (Polykovskiy et al. 2020): validity, unique@10k, novelty; for anchors=
MOSES_VAE = {"validity": 0.9767, "uniqueness": 0.9984, "novelty": 0.6949}


# ------------------------------------------------------------------------------------------ the optional libraries
def _chem():
    """RDKit and selfies, imported on first use (they are an optional extra): a namespace of the modules used here."""
    require("molecules", "minivae's molecule metrics")
    import selfies
    from rdkit import Chem, DataStructs
    from rdkit.Chem import QED, Crippen, Descriptors, rdFingerprintGenerator

    return SimpleNamespace(Chem=Chem, DataStructs=DataStructs, selfies=selfies, QED=QED, Crippen=Crippen,
                           Descriptors=Descriptors, rdFingerprintGenerator=rdFingerprintGenerator)


def _parse(text, representation, chem):
    """to_molecule without the checks and the silencing (the loops below do those once)."""
    if not text or re.search(r"\s", text):  # RDKit would read "CCO CCN" as ethanol named "CCN"
        return None
    if representation == "selfies":
        try:
            text = chem.selfies.decoder(text)
        except chem.selfies.DecoderError:
            return None
    if not text:
        return None
    mol = chem.Chem.MolFromSmiles(text)
    return mol if mol is not None and mol.GetNumAtoms() > 0 else None


# ------------------------------------------------------------------------------------------------ one string
def to_molecule(text, representation):
    """The RDKit molecule a SMILES or SELFIES string describes, or None if it describes none. Never raises on a bad
    string: a SELFIES that does not decode, a SMILES that does not parse or sanitize, "", a molecule of 0 atoms and
    any string with whitespace (RDKit reads "CCO x" as ethanol named x) are all None. The representation is not
    guessed: "[C]" is valid as both, and means different things.

    Example
    -------
    >>> to_molecule("C1CC", "smiles") is None                     # ring 1 is never closed
    True
    >>> to_molecule("[C][C][O]", "selfies").GetNumAtoms()        # ethanol, hydrogens implicit
    3
    """
    _check_representation(representation)
    if not isinstance(text, str):
        raise TypeError(f"text must be a str (a {representation.upper()} string), got {type(text).__name__}")
    chem = _chem()
    with rdkit_conventions():
        return _parse(text, representation, chem)


def canonical_smiles(text, representation):
    """RDKit's canonical SMILES of the molecule (one string per molecule, ``Chem.MolToSmiles``), or None if invalid.

    Example
    -------
    >>> canonical_smiles("OCC", "smiles"), canonical_smiles("[C][C][O]", "selfies")
    ('CCO', 'CCO')
    """
    mol = to_molecule(text, representation)
    return None if mol is None else _chem().Chem.MolToSmiles(mol)


# ------------------------------------------------------------------------------------------------ properties
# name -> (label with its unit, function of an RDKit molecule returning a float)
PROPERTIES = {"qed": ("QED (drug-likeness, 0 to 1)", lambda mol: _chem().QED.qed(mol)),
              "logp": ("logP (Crippen, log10 of a ratio)", lambda mol: _chem().Crippen.MolLogP(mol)),
              "mw": ("molecular weight (g/mol)", lambda mol: _chem().Descriptors.MolWt(mol))}


def property_values(smiles):
    """The PROPERTIES of each valid molecule of a list of SMILES: dict name -> (N_valid,) float64, in list order.

    Invalid strings are skipped. QED takes about a millisecond a molecule: subsample a large data set.

    Example
    -------
    >>> round(float(property_values(["CCO"])["mw"][0]), 2)
    46.07
    """
    smiles = _check_strings(smiles, "smiles")
    chem = _chem()
    with rdkit_conventions():
        mols = [m for m in (_parse(s, "smiles", chem) for s in smiles) if m is not None]
    return {name: np.array([f(m) for m in mols], dtype=np.float64) for name, (_, f) in PROPERTIES.items()}


def _check_representation(representation):
    if representation not in REPRESENTATIONS:
        raise ValueError(f"representation must be one of {REPRESENTATIONS}, got {representation!r}")


def _check_strings(strings, name):
    """A non-empty list of str (a list, tuple or array); the message names the first entry that is not a str."""
    if isinstance(strings, str):
        raise TypeError(f"{name} must be a list of strings, got one str; wrap it in a list: [{strings[:40]!r}]")
    try:
        strings = list(strings)
    except TypeError:
        raise TypeError(f"{name} must be a list of strings, got {type(strings).__name__}") from None
    for i, text in enumerate(strings):
        if not isinstance(text, str):
            raise TypeError(f"{name}[{i}] is a {type(text).__name__} ({text!r:.40}), not a str: pass the strings "
                            "themselves (token ids decoded to text)")
    if not strings:
        raise ValueError(f"{name} is empty: pass at least one string")
    return strings


def _canonical_forms(strings, representation):
    """(N,) canonical SMILES of each string, None where invalid."""
    _check_representation(representation)
    strings = _check_strings(strings, "strings")
    chem = _chem()
    with rdkit_conventions():
        mols = [_parse(s, representation, chem) for s in strings]
        return [None if m is None else chem.Chem.MolToSmiles(m) for m in mols]


def _ratio(count, total):
    return None if total == 0 else count / total  # None, not NaN or 0, when there is nothing to divide by


# ------------------------------------------------------------------------------------------------ the metrics
def validity(strings, representation):
    """Fraction of the strings that are molecules, n_valid / n (see :func:`to_molecule`).

    Example
    -------
    >>> validity(["c1ccccc1", "C1CC", ""], "smiles")
    0.3333333333333333
    """
    forms = _canonical_forms(strings, representation)
    return sum(f is not None for f in forms) / len(forms)


def uniqueness(strings, representation):
    """Distinct molecules among the valid ones, n_unique / n_valid (by canonical SMILES); None if none is valid.

    Example
    -------
    >>> uniqueness(["CCO", "OCC", "c1ccccc1", "C1CC"], "smiles")   # ethanol twice, benzene: 2 of 3
    0.6666666666666666
    """
    valid = [f for f in _canonical_forms(strings, representation) if f is not None]
    return _ratio(len(set(valid)), len(valid))


def _canonical_set(smiles, name):
    """The canonical forms of a list of SMILES, the invalid ones left out."""
    return set(_canonical_forms(_check_strings(smiles, name), "smiles")) - {None}


def novelty(strings, representation, train_smiles):
    """Of the distinct valid molecules, the fraction not in the training set, n_novel / n_unique; None if none is
    valid. train_smiles : the training set as SMILES (canonicalized here; invalid entries ignored).

    Example
    -------
    >>> novelty(["CCO", "OCC", "c1ccccc1"], "smiles", train_smiles=["OCC"])   # benzene is new, ethanol is not
    0.5
    """
    unique = set(_canonical_forms(strings, representation)) - {None}
    return _ratio(len(unique - _canonical_set(train_smiles, "train_smiles")), len(unique))


def internal_diversity(smiles, radius=2, n_bits=2048, max_molecules=None, rng=None):
    """1 - the mean Tanimoto similarity of Morgan fingerprints over the n (n - 1) / 2 distinct pairs of molecules:

        D = 1 - (2 / (n (n - 1))) sum_{i < j} T(f_i, f_j),      T(a, b) = |a AND b| / |a OR b|

    MOSES's IntDiv1 of the same molecules is (n - 1) / n * D (see the module docstring). It costs n^2 / 2
    similarities: ``max_molecules`` draws that many at random when there are more (rng, a np.random.Generator,
    default seeded with 0 so that the number is reproducible).

    smiles : valid SMILES (else a ValueError names the first invalid one); duplicates are pairs with T = 1.
    Returns a float in [0, 1], or None for fewer than two molecules (no pair).

    Example
    -------
    >>> internal_diversity(["CCO", "OCC"])                       # the same molecule twice
    0.0
    """
    smiles = _check_strings(smiles, "smiles")
    radius, n_bits = check_positive_int(radius, "radius"), check_positive_int(n_bits, "n_bits")
    if max_molecules is not None and len(smiles) > check_positive_int(max_molecules, "max_molecules"):
        rng = np.random.default_rng(0) if rng is None else rng
        smiles = [smiles[i] for i in np.sort(rng.choice(len(smiles), size=max_molecules, replace=False))]
    chem = _chem()
    generator = chem.rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    with rdkit_conventions():
        mols = [_parse(s, "smiles", chem) for s in smiles]
    for i, mol in enumerate(mols):
        if mol is None:
            raise ValueError(f"smiles[{i}] = {smiles[i]!r} is not a valid molecule: pass only valid SMILES "
                             "(molecule_metrics(...)['valid_smiles'] holds a sample's)")
    if len(mols) < 2:
        return None
    fps = [generator.GetFingerprint(m) for m in mols]
    total = math.fsum(math.fsum(chem.DataStructs.BulkTanimotoSimilarity(fps[i], fps[i + 1:]))
                      for i in range(len(fps) - 1))
    return 1.0 - total / (len(fps) * (len(fps) - 1) / 2)


def wasserstein_1d(a, b):
    """The Wasserstein-1 (earth mover's) distance between two 1-D samples, exactly, in the units of the values:

        W1 = integral_0^1 |F_a^{-1}(u) - F_b^{-1}(u)| du,      F_a^{-1}(u) = a_(ceil(u n)) for u in (0, 1]

    with a_(1) <= ... <= a_(n) the sorted sample; b's likewise, m values. The two step functions step only at the
    multiples of 1/n and 1/m: between the merged breakpoints both are constant, so the integral is a finite sum,
    exact for any n and m. The breakpoints are integers in units of 1/(n m) (i m and j n): no rounding.

    a : (n,)    b : (m,)    Returns a float >= 0; W1(a, a + c) = |c|.

    Example
    -------
    >>> wasserstein_1d([0.0, 1.0, 2.0], [0.0, 2.0])             # the quantiles differ by 1 on 1/6 + 1/6 of (0, 1]
    0.3333333333333333
    """
    a, b = np.sort(np.asarray(a, dtype=np.float64)), np.sort(np.asarray(b, dtype=np.float64))
    for name, values in (("a", a), ("b", b)):
        if values.ndim != 1 or len(values) == 0 or not np.isfinite(values).all():
            raise ValueError(f"{name} must be a non-empty 1-D array of finite numbers, got shape {values.shape}")
    n, m = len(a), len(b)
    ends = np.union1d(np.arange(1, n + 1) * m, np.arange(1, m + 1) * n)  # right end of each piece, in 1/(n m)
    widths = np.diff(ends, prepend=0) / (n * m)
    a_on_piece = a[(ends + m - 1) // m - 1]  # a_(ceil(end / m)): a's quantile on (end - width, end]
    b_on_piece = b[(ends + n - 1) // n - 1]
    return float(np.sum(widths * np.abs(a_on_piece - b_on_piece)))


# ------------------------------------------------------------------------------------------------ summaries
def molecule_metrics(samples, representation, train_smiles, data_smiles=None):
    """Every number above for a list of generated strings, as a dict of plain ints, floats, str and lists (JSON):

    "n_samples", "n_valid", "n_unique", "n_novel"   the counts behind the fractions
    "validity", "uniqueness", "novelty"              n_valid / n_samples, n_unique / n_valid, n_novel / n_unique
    "internal_diversity"                             of the distinct valid samples (radius 2, 2048 bits)
    "n_train"                                        distinct valid molecules of the training set
    "n_data"                                         valid molecules of the data the properties are compared with
    "properties"     name -> {"label", "data_mean", "data_std", "sample_mean", "sample_std", "wasserstein"}: each
                     of PROPERTIES over the valid samples (duplicates included) and the data; std with ddof = 0
    "valid_smiles"   the canonical SMILES of the valid samples, in sample order (duplicates kept): write them to
                     a .smi file, draw them with ``minivae.plots.molecules.molecule_grid``
    "representation" what the samples were read as

    With no valid sample, uniqueness, novelty, the diversity and the samples' property numbers are None (not 0, not
    NaN); so is the diversity of a single distinct molecule.

    samples : the generated strings    representation : "smiles" or "selfies" (how to read the samples)
    train_smiles : the training molecules as SMILES (for novelty; invalid ones are ignored)
    data_smiles : the SMILES whose property distributions the samples should match, default train_smiles; a random
                  subset of some thousands is enough, and much faster (QED takes about a millisecond a molecule)
    """
    samples = _check_strings(samples, "samples")
    valid = [f for f in _canonical_forms(samples, representation) if f is not None]
    unique = list(dict.fromkeys(valid))  # first-seen order
    n_novel = len(set(unique) - (train := _canonical_set(train_smiles, "train_smiles")))
    data_name = "train_smiles" if data_smiles is None else "data_smiles"
    data = property_values(_check_strings(train_smiles if data_smiles is None else data_smiles, data_name))
    if len(data["qed"]) == 0:
        raise ValueError(f"{data_name} holds no valid molecule: the property distributions need the data's")
    drawn = property_values(valid) if valid else None
    properties = {}
    for name, (label, _) in PROPERTIES.items():
        d, s = data[name], None if drawn is None else drawn[name]
        properties[name] = {"label": label, "data_mean": float(d.mean()), "data_std": float(d.std()),
                            "sample_mean": None if s is None else float(s.mean()),
                            "sample_std": None if s is None else float(s.std()),
                            "wasserstein": None if s is None else wasserstein_1d(s, d)}
    return {"representation": representation, "n_samples": len(samples), "n_valid": len(valid),
            "n_unique": len(unique), "n_novel": n_novel, "validity": len(valid) / len(samples),
            "uniqueness": _ratio(len(unique), len(valid)), "novelty": _ratio(n_novel, len(unique)),
            "internal_diversity": internal_diversity(unique) if unique else None,
            "n_train": len(train), "n_data": len(data["qed"]), "properties": properties, "valid_smiles": valid}


# metric -> (the counts behind it, what it means): the rows of metrics_table
_MEANINGS = {
    "validity": ("{n_valid} of {n_samples}", "fraction of the samples RDKit reads as a molecule"),
    "uniqueness": ("{n_unique} of {n_valid}", "distinct molecules (canonical SMILES) among the valid ones; falls as "
                   "more are drawn"),
    "novelty": ("{n_novel} of {n_unique}", "of the distinct valid molecules, the fraction not in the training set"),
    "internal_diversity": ("{n_unique} molecules", "1 - mean Tanimoto similarity of their Morgan fingerprints "
                           "(radius 2, 2048 bits) over distinct pairs; 0 = all alike"),
}


def _number(value):
    return "n/a" if value is None else f"{value:.4g}" if isinstance(value, (int, float)) else str(value)


def _markdown(header, rows):
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines) + "\n"


def metrics_table(metrics, anchors=None):
    """Two markdown tables of a ``molecule_metrics`` dict: the metrics (metric | value | what it means), then the
    property distributions (property | data mean ± std | samples mean ± std | W1). Missing numbers read "n/a".

    anchors : optional dict metric -> a published figure (a number or a short text) for a "published" column, e.g.
    MOSES_VAE; keys among _MEANINGS's. Compare only what was computed alike (MOSES's uniqueness is unique@10k).

    Example
    -------
    >>> table = metrics_table(molecule_metrics(["CCO", "C1CC"], "smiles", ["CCO"]), anchors={"validity": 0.9767})
    >>> print(table.splitlines()[3])
    | validity | 0.5 (1 of 2) | 0.9767 | fraction of the samples RDKit reads as a molecule |
    """
    anchors = {} if anchors is None else dict(anchors)
    if set(anchors) - set(_MEANINGS):
        raise ValueError(f"anchors names unknown metrics {sorted(set(anchors) - set(_MEANINGS))}; use some of "
                         f"{list(_MEANINGS)}")
    published = ["published"] if anchors else []
    rows = [["samples", str(metrics["n_samples"]), *[""] * len(published),
             f"generated {metrics['representation']} strings"]]
    for key, (counts, meaning) in _MEANINGS.items():
        rows.append([key.replace("_", " "), f"{_number(metrics[key])} ({counts.format(**metrics)})",
                     *[_number(anchors.get(key)) for _ in published], meaning])
    properties = [[p["label"], f"{_number(p['data_mean'])} ± {_number(p['data_std'])}",
                   "n/a" if p["sample_mean"] is None else f"{_number(p['sample_mean'])} ± {_number(p['sample_std'])}",
                   _number(p["wasserstein"])] for p in metrics["properties"].values()]
    return (_markdown(["metric", "value", *published, "what it means"], rows) + "\n"
            + _markdown(["property", f"data mean ± std (n = {metrics['n_data']})",
                         f"samples mean ± std (n = {metrics['n_valid']})", "W1 (samples to data)"], properties))
