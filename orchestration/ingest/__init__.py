"""Landing → raw: discover landing files, read them with DuckDB's readers, type, dedupe, load."""
