"""`flags` stand-in: dbt's run flags (macro has_batch reads FULL_REFRESH)."""

FULL_REFRESH = False
