"""Software-defined assets: landing ingest, the dbt project, and (later) publish."""
