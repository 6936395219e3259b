"""Tables at lakehouse scale: columns encoded inside their support, fitted in one streaming pass.

    summary       one pass over a column: counts, range, whole numbers, few distinct values, a uniform sample
    columns       TableEncoder: each column as numbers for the VAE (log, logit, one-hot, nulls) and back in its support
    scoring       a table scored batch by batch: negative ELBO, reconstruction error, IW bound, beside its keys
    synthesis     synthetic rows in batches, decoded inside each column's support
    streaming     a table larger than memory as training data: encoded once into memory-mapped files

A batch of rows is a dict: column name -> 1-D array, all of one length. Numeric columns are float64 with NaN for a
null; the others (strings, categories, booleans) are object arrays of str or bool, with None for a null.
"""
