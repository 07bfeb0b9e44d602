"""Shared fixtures: the dbt manifest is parsed once per test session (as `make prepare` does)."""

from __future__ import annotations

import pytest

from orchestration import cli


@pytest.fixture(scope="session", autouse=True)
def dbt_manifest() -> None:
    cli.prepare()
