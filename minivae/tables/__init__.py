"""Tables at lakehouse scale: Parquet, CSV, Delta Lake and Iceberg tables streamed as column batches, and written.

    schema      the column-batch convention: a batch is a dict of name -> 1-D array (float64 with NaN for null,
                objects for bools and strings), a schema a JSON-able list; both ways to Arrow; schema_drift
    arrow_io    one entry point for every source: read_schema, count_rows, fragments (parts for k readers),
                iter_batches; Parquet written batch by batch, atomically
    lakehouse   Delta Lake (delta:PATH[@VERSION]) and Iceberg (iceberg:CATALOG#NS.TABLE[@SNAPSHOT]) tables: read,
                and written as a new version or snapshot

Each needs the ``tables`` extra (pyarrow), and lakehouse also the ``lakehouse`` extra: pip install "minivae[tables]".
"""
