"""The test session keeps off the user's files (tests/conftest.py): every path setting points into
the session's temp dir, the guards that fail a session which wrote into data/ or left a new
untracked file see what they must, and under CI a check that cannot run fails instead of
skipping."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import (
    DATA_DIR,
    ISOLATED_PATHS,
    RepoState,
    skip_or_fail,
    snapshot_tree,
    tree_changes,
    untracked_files,
)

from orchestration import deployment, settings


def test_every_path_setting_points_into_the_session_folder(
    isolated_paths: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Into the session's temp dirs: `isolated_paths`, or a session fixture's own folder there
    (`sample_run` sets its paths for the rest of the session)."""
    assert not isolated_paths.is_relative_to(settings.REPO_ROOT)
    base = tmp_path_factory.getbasetemp()
    resolved = {
        "LANDING_DIR": settings.get().landing_dir,
        "WAREHOUSE_PATH": settings.get().warehouse_path,
        "SERVING_DIR": settings.get().serving_dir,
        "GX_DOCS_DIR": settings.get().gx_docs_dir,
        "DAGSTER_HOME": settings.get().dagster_home,
        "SPARK_DIR": settings.get().spark_dir,
    }
    assert resolved.keys() == ISOLATED_PATHS.keys()
    for name, path in resolved.items():
        assert path.is_relative_to(base), name
        assert path.name == Path(ISOLATED_PATHS[name]).name, name
        assert not path.is_relative_to(DATA_DIR), name


def test_the_deployment_config_is_the_session_empty_one(isolated_paths: Path) -> None:
    """Not a local warehouse.yaml at the repository root: the defaults, whatever is there."""
    config = deployment.load_config()
    assert config.source == str(isolated_paths / "warehouse.yaml")
    assert (config.feeds, config.dbt_overrides) == (deployment.Deployment(source="x").feeds, {})
    assert "DBT_VARS" not in os.environ and settings.get().all_dbt_vars == {}


def test_the_definitions_write_data_docs_under_the_tmp_dirs(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """definitions.py reads GX_DOCS_DIR once, when imported: that must be in a temp dir."""
    from orchestration.definitions import defs

    docs_dir = Path(defs.resources["gx"].docs_dir)
    assert docs_dir.is_relative_to(tmp_path_factory.getbasetemp()), docs_dir


def test_snapshot_sees_added_changed_and_removed_paths(tmp_path: Path) -> None:
    root = tmp_path / "data"
    assert snapshot_tree(root) == {".": "absent"}
    (root / "landing").mkdir(parents=True)
    (root / "warehouse.duckdb").write_bytes(b"1234")
    (root / "landing" / "old.csv").write_text("a\n")
    before = snapshot_tree(root)
    assert before["."] == before["landing"] == "dir"
    assert before["warehouse.duckdb"].startswith("file 4 ")
    assert tree_changes(before, snapshot_tree(root)) == []

    (root / "warehouse.duckdb").write_bytes(b"12345")  # another size
    (root / "landing" / "old.csv").unlink()
    (root / "docs" / "validations").mkdir(parents=True)
    (root / "docs" / "validations" / "page.html").write_text("<html/>")
    assert tree_changes(before, snapshot_tree(root)) == [
        "added docs",
        "added docs/validations",
        "added docs/validations/page.html",
        "removed landing/old.csv",
        "changed warehouse.duckdb",
    ]
    shutil.rmtree(root)
    assert tree_changes(before, snapshot_tree(root))[0] == "changed ."


def test_snapshot_sees_a_rewrite_of_the_same_size(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    path.write_bytes(b"1234")
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    before = snapshot_tree(tmp_path)
    path.write_bytes(b"5678")
    assert tree_changes(before, snapshot_tree(tmp_path)) == ["changed warehouse.duckdb"]


def test_untracked_files_are_what_git_neither_tracks_nor_ignores(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        skip_or_fail("no git on PATH")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("data/\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "warehouse.duckdb").write_text("x")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text("x")
    assert untracked_files(tmp_path) == {".gitignore", "docs/page.md"}
    assert untracked_files(tmp_path / "no_such_folder") is None


def test_repo_state_breaches_name_each_path() -> None:
    start = RepoState({".": "dir", "warehouse.duckdb": "file 4 1"}, {"notes.md"})
    same = RepoState(dict(start.data), {"notes.md"})
    assert start.breaches(same) == []
    later = RepoState(
        {".": "dir", "warehouse.duckdb": "file 4 2", "docs": "dir"}, {"notes.md", "x.html"}
    )
    assert start.breaches(later) == [
        "data/: added docs",
        "data/: changed warehouse.duckdb",
        "new untracked file x.html",
    ]
    assert start.breaches(RepoState(start.data, None)) == []  # git could not tell: data/ only


@pytest.mark.parametrize(("ci", "outcome"), [("true", "failed"), ("1", "failed"), ("", "skipped")])
def test_skip_or_fail_fails_under_ci(ci: str, outcome: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CI", ci)
    expected = pytest.fail.Exception if outcome == "failed" else pytest.skip.Exception
    with pytest.raises(expected, match="no registry"):
        skip_or_fail("no registry")
