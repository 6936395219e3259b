"""Figures of generated molecules: their property distributions against the data's, and a grid of their drawings.

``property_histograms`` draws one panel per property of ``minivae.apps.molecules.PROPERTIES`` (QED, logP,
molecular weight): the data and the samples as density histograms on the same bins, so that the areas compare
(each histogram integrates to 1, whatever its n). It is the picture behind the Wasserstein distances of
``molecule_metrics``: W1 is the area between the two distributions' CDFs. ``molecule_grid`` draws molecules with
RDKit's Cairo drawer into a PNG, as ``Chem.Draw.MolsToGridImage`` does, but called directly: in a notebook that
imported ``rdkit.Chem.Draw.IPythonConsole``, MolsToGridImage is replaced by a display function that keeps only
the first 50 molecules and returns no image to save.

Both take SMILES (the "valid_smiles" of ``molecule_metrics``, say); entries that are not molecules are skipped and
counted. Both write their file atomically (``minivae.fileio``). RDKit is optional: ``pip install 'minivae[molecules]'``.

Example
-------
>>> m = molecule_metrics(samples, "smiles", train_smiles)
>>> property_histograms(m["valid_smiles"], train_smiles, "figures/properties.png")
>>> molecule_grid(m["valid_smiles"][:20], "figures/molecules.png")
0
"""
from pathlib import Path

import numpy as np

from minivae.apps.molecules import PROPERTIES, _chem, property_values, to_molecule
from minivae.datasets.molecules import rdkit_conventions
from minivae.fileio import atomic_write_bytes
from minivae.plots.images import new_figure, save_figure
from minivae.validation import check_positive_int

N_BINS = 30


def property_histograms(sample_smiles, data_smiles, path=None):
    """Data and samples overlaid, one panel per property: density histograms on common bins, n in the legend.

        density of a bin = count / (n * bin width),    so that each histogram has area 1

    The bins span both sets: N_BINS equal bins from the smallest to the largest value of either. Invalid SMILES are
    skipped (the legend's n counts what is drawn); an empty or wholly invalid ``sample_smiles`` draws the data alone.

    sample_smiles, data_smiles : lists of SMILES    path : where to save the figure too (``save_figure``), or None
    Returns the Figure, with one axes per property.

    Example
    -------
    >>> fig = property_histograms(m["valid_smiles"], train_smiles, "properties.png")
    """
    data = property_values(data_smiles)
    if len(data["qed"]) == 0:
        raise ValueError("data_smiles holds no valid molecule: there is no distribution to draw")
    if isinstance(sample_smiles, str) or len(sample_smiles):  # property_values refuses a str with a hint
        samples = property_values(sample_smiles)
    else:
        samples = {name: np.empty(0) for name in PROPERTIES}
    fig = new_figure(4.0 * len(PROPERTIES), 3.4)
    for ax, (name, (label, _)) in zip(fig.subplots(1, len(PROPERTIES)), PROPERTIES.items()):
        d, s = data[name], samples[name]
        bins = np.histogram_bin_edges(np.concatenate([d, s]), bins=N_BINS)
        ax.hist(d, bins=bins, density=True, color="0.6", alpha=0.6, label=f"data (n = {len(d)})")
        if len(s):
            ax.hist(s, bins=bins, density=True, histtype="step", linewidth=1.8, color="tab:blue",
                    label=f"samples (n = {len(s)})")
        else:
            ax.plot([], [], color="tab:blue", label="samples: none valid")
        ax.set_title(label, fontsize=10)
        ax.set_xlabel(label.split(" (")[0])
        ax.set_ylabel("density")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, frameon=False)
    if path is not None:
        save_figure(fig, path)
    return fig


def molecule_grid(smiles, path, legends=None, per_row=5, size=(250, 250)):
    """Draw molecules in a grid, per_row a row, each in a cell of size = (width, height) pixels, to a PNG file.

    smiles : list of SMILES; None and invalid entries are skipped (with their legends); other types: TypeError
    legends : one caption per entry, default the SMILES themselves    path : the .png file to write (atomically)
    Returns the number of entries skipped. Raises ValueError when none is a molecule (there is nothing to draw).

    Example
    -------
    >>> molecule_grid(["CCO", "C1CC", "c1ccccc1"], "grid.png")    # C1CC is no molecule
    1
    """
    if isinstance(smiles, str):
        raise TypeError(f"smiles must be a list of SMILES, got one str; wrap it in a list: [{smiles[:40]!r}]")
    smiles = list(smiles)
    legends = [s or "" for s in smiles] if legends is None else [str(text) for text in legends]
    if len(legends) != len(smiles):
        raise ValueError(f"legends must give one caption per molecule: {len(smiles)} molecules, {len(legends)} legends")
    if Path(path).suffix.lower() != ".png":
        raise ValueError(f"molecule_grid writes a PNG image: name the file *.png, got {str(path)!r}")
    per_row = check_positive_int(per_row, "per_row")
    width, height = (check_positive_int(v, "size") for v in size)
    drawn = [(mol, text) for mol, text in zip(_molecules_or_none(smiles), legends) if mol is not None]
    if not drawn:
        raise ValueError(f"none of the {len(smiles)} entries is a valid molecule: nothing to draw")
    chem = _chem()
    from rdkit.Chem.Draw import rdMolDraw2D  # after _chem(), which says what to install when RDKit is missing

    n_cols = min(per_row, len(drawn))
    n_rows = -(-len(drawn) // n_cols)  # ceil
    drawer = rdMolDraw2D.MolDraw2DCairo(n_cols * width, n_rows * height, width, height)  # the whole, one cell
    options = drawer.drawOptions()
    options.drawMolsSameScale = False  # else one long molecule shrinks every other to a dot
    options.fixedBondLength = width / 8  # the most a bond may take: ethanol stays small, not a cell-wide "OH"
    options.legendFontSize, options.legendFraction = max(14, width // 14), 0.15
    with rdkit_conventions():
        drawer.DrawMolecules([mol for mol, _ in drawn], legends=[_shorten(text) for _, text in drawn])
    drawer.FinishDrawing()
    atomic_write_bytes(path, drawer.GetDrawingText())  # the PNG's bytes
    return len(smiles) - len(drawn)


def _molecules_or_none(smiles):
    """The molecule of each SMILES, None where it is None or not a molecule; TypeError names any other entry."""
    for i, text in enumerate(smiles):
        if text is not None and not isinstance(text, str):
            raise TypeError(f"smiles[{i}] is a {type(text).__name__}, not a SMILES str (or None, to skip)")
    return [None if text is None else to_molecule(text, "smiles") for text in smiles]


def _shorten(text, limit=30):
    """A caption short enough to read under its drawing: long SMILES end in '...'."""
    return text if len(text) <= limit else text[:limit - 3] + "..."
