"""Seeded, vectorized sample data for the landing zone (see generator.generate).

`python -m orchestration.sample --scale 0.01 --seed 42 --out data/landing --clean`
"""

from orchestration.sample.generator import generate

__all__ = ["generate"]
