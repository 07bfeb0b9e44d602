"""The Spark target: `python -m orchestration.spark export|build` (docs/scaling.md)."""
