"""The Spark target: raw tables exported as Parquet and the dbt project built on local Spark.

`python -m orchestration.spark export|build` (docs/scaling.md).
"""
