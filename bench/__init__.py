"""The benchmark harness of `make bench`, kept outside the runtime package `orchestration`.

`python -m bench.harness` (from the repository root) measures the pipeline at one scale factor
against the plain-SQL floor (`bench/floor.sql`) and writes `bench/results/sf<scale>.json`.
Nothing in `orchestration` imports this package; the harness runs the pipeline as subprocesses.
"""
