"""Lesson 13 (molecules): reference solutions of its checkable exercises, for teachers.

Each section below is the code a student would write in a cell above the lesson's check cell; it defines exactly
the names the check cell looks for, and may use the lesson's own variables and imports. These answers are kept
outside the lessons and outside the minivae package, so that students do not get them by default.
"""

# %% exercise 1: internal diversity by hand: 1 - the mean Tanimoto similarity of the distinct pairs of fingerprints
def my_internal_diversity(smiles):
    fingerprints = [morgan.GetFingerprint(to_molecule(s, "smiles")) for s in smiles]
    similarities = []
    for i in range(1, len(fingerprints)):
        similarities.extend(DataStructs.BulkTanimotoSimilarity(fingerprints[i], fingerprints[:i]))
    return 1.0 - float(np.mean(similarities))


# %% exercise 2: the Wasserstein-1 distance of two samples of equal size: the mean absolute difference of the sorted
def my_w1(a, b):
    return float(np.mean(np.abs(np.sort(np.asarray(a, dtype=np.float64)) - np.sort(np.asarray(b, dtype=np.float64)))))


# %% exercise 3: 1,000 SELFIES samples of the model at temperature 0.5
cold_samples = vocab.decode(model.sample(1000, np.random.default_rng(5), temperature=0.5,
                                         max_length=MOLECULE_MAX_LENGTH))
