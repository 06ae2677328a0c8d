"""Dataset ingest: streaming JSONL/Parquet validation, the row index, uploads, rows read back."""
