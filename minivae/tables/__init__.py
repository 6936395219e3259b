"""Tables at lakehouse scale: Parquet, CSV, Delta Lake and Iceberg tables streamed as column batches, encoded inside
each column's support, trained on from disk, scored and synthesised batch by batch, and the synthetic rows judged.

    schema      the column-batch convention: a batch is a dict of name -> 1-D array (float64 with NaN for null,
                objects for bools and strings), a schema a JSON-able list; both ways to Arrow; schema_drift
    arrow_io    one entry point for every source: read_schema, count_rows, fragments (parts for k readers),
                iter_batches; Parquet written batch by batch, atomically
    lakehouse   Delta Lake (delta:PATH[@VERSION]) and Iceberg (iceberg:CATALOG#NS.TABLE[@SNAPSHOT]) tables: read,
                and written as a new version or snapshot
    summary     one pass over a column: counts, range, whole numbers, few distinct values, a uniform sample
    columns     TableEncoder: each column as numbers for the VAE (log, logit, one-hot, nulls) and back in its support
    streaming   a table larger than memory as training data: encoded once into memory-mapped files
    dataset     a table from any source as a Dataset to train on: schema, key columns, encoder, split; a CSV file
                read without pyarrow; a table read with a run's encoder checked for schema drift
    scoring     a table scored batch by batch: negative ELBO, reconstruction error, IW bound, beside its keys
    synthesis   synthetic rows in batches, decoded inside each column's support

How good a synthetic table is (SDMetrics' scores, by hand):

    inputs      the convention checked: two tables with the same columns, a kind for each; kinds from the dtypes
    quality     SDMetrics' quality score: column shapes (KS, TVD) and column-pair trends (correlation, contingency)
    linear      the classifiers and regressions of the other scores: ridge, logistic (Newton), softmax regression
    detection   can a logistic regression tell real rows from synthetic ones? Cross-validated ROC AUC
    efficacy    train on synthetic, test on real (TSTR): a model's score beside the same model trained on real rows
    dcr         privacy: each synthetic row's distance to the closest real training row, beside held-out rows'
    scores      every score of a synthetic table in one JSON-able dict, and its markdown page
    report      the folder of a quality report: report.md, scores.json and the figures

A batch of rows is a dict: column name -> 1-D array, all of one length. Numeric columns are float64 with NaN for a
null; the others (strings, categories, booleans) are object arrays of str or bool, with None for a null.
schema, arrow_io and lakehouse need the ``tables`` extra (pyarrow), lakehouse also the ``lakehouse`` extra:
pip install "minivae[tables]" or "minivae[lakehouse]". The others are NumPy only (dataset reads a CSV file
without pyarrow). The command line of all this is ``minivae.cli.tables``.
"""
