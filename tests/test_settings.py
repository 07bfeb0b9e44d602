"""Every setting is checked before anything runs: a bad value is one line naming the setting,
the value and the fix, exit code 2, and nothing written. Run as a user would: the CLI in a
subprocess, settings from the environment, from `.env` and from the deployment file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration import settings
from orchestration.contract import FEEDS

ENV_EXAMPLE = settings.REPO_ROOT / ".env.example"
PATH_SETTINGS = ("LANDING_DIR", "WAREHOUSE_PATH", "SERVING_DIR", "DAGSTER_HOME", "GX_DOCS_DIR")


def cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m orchestration.cli ARGS` with every path setting inside `tmp_path/run`."""
    run = tmp_path / "run"
    base = {
        name: value
        for name, value in os.environ.items()
        if name not in settings.BY_NAME and not name.startswith(settings.PER_FEED)
    }
    paths = {name: str(run / name.lower()) for name in PATH_SETTINGS}
    paths["SPARK_DIR"] = str(run / "spark")
    full_env = {**base, **paths, settings.ENV_FILE_VAR: str(tmp_path / "no.env"), **env}
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli", *args],
        cwd=settings.REPO_ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_refused(proc: subprocess.CompletedProcess[str], *words: str) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def documented() -> list[str]:
    """The variables .env.example lists (`NAME=` lines)."""
    return re.findall(r"^([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), flags=re.MULTILINE)


def test_every_setting_is_documented_in_env_example() -> None:
    listed = set(documented())
    assert listed - {settings.ENV_FILE_VAR} == set(settings.BY_NAME)


# A value each setting refuses; the settings that take any text have none.
BAD = {
    "LANDING_DIR": "README.md",
    "WAREHOUSE_PATH": "orchestration",
    "SERVING_DIR": "README.md",
    "SERVING_KEEP": "0",
    "DAGSTER_HOME": "README.md",
    "WAREHOUSE_CONFIG": "no/such/warehouse.yaml",
    "DBT_VARS": "{business_timezone: Mars/Olympus}",
    "PARTITIONS_START_DATE": "2020-13-01",
    "LANDING_SETTLE_SECONDS": "-5",
    "SCHEDULE_LOOKBACK_DAYS": "0",
    "DBT_FULL_REFRESH": "maybe",
    "DBT_UNIT_TESTS": "maybe",
    "DBT_LOG_LEVEL_FILE": "loud",
    "DBT_TARGET": "postgres",
    "QUARANTINE_MAX_SHARE": "1%",
    "ORPHAN_GRACE_DAYS": "three",
    "POOL_WAIT_SECONDS": "forever",
    "GX_DOCS_DIR": "README.md",
    "GX_BACKEND": "spark",
    "GX_DOCS_URL": "docs.example.com",
    "SPARK_DIR": "README.md",
    "SPARK_DRIVER_MEMORY": "lots",
    "DUCKDB_MEMORY_LIMIT": "2 gigs",
    "DUCKDB_THREADS": "0",
    "ALERT_WEBHOOK_URL": "hooks.example.com/abc",
    "ALERT_SMTP_PORT": "smtp",
    "ALERT_SMTP_STARTTLS": "sometimes",
    "ALERT_SMTP_CA_FILE": "no/such/ca.pem",
    "ALERT_EMAIL_FROM": "alerts",
    "ALERT_EMAIL_TO": "ops team",
    "DAGSTER_UI_URL": "localhost:3000",
    "ANOMALY_ALERT_LOOKBACK_DAYS": "a week",
    "FRESHNESS_MAX_LAG_DAYS": "-1",
    "VERBOSE": "very",
}


def test_every_checked_setting_has_a_bad_value() -> None:
    assert set(BAD) == {s.name for s in settings.SETTINGS if s.parse is not str}


@pytest.mark.parametrize(("name", "bad"), BAD.items(), ids=list(BAD))
def test_a_bad_value_is_refused_before_anything_runs(tmp_path: Path, name: str, bad: str) -> None:
    proc = cli(tmp_path, "pipeline", **{name: bad})
    line = assert_refused(proc, f"bad setting {name}=", repr(bad), "fix:")
    assert "Traceback" not in line
    assert not (tmp_path / "run").exists(), "a refused setting wrote files"


@pytest.mark.parametrize("name", ["QUARANTINE_MAX_SHARE_EVENTS", "FRESHNESS_MAX_LAG_DAYS_ORDERS"])
def test_a_bad_per_feed_value_is_refused(tmp_path: Path, name: str) -> None:
    assert_refused(cli(tmp_path, "pipeline", **{name: "lots"}), name, "'lots'", "fix:")


def test_a_per_feed_setting_of_an_unknown_feed_is_refused(tmp_path: Path) -> None:
    proc = cli(tmp_path, "pipeline", QUARANTINE_MAX_SHARE_ORDER="0.1")
    assert_refused(proc, "QUARANTINE_MAX_SHARE_ORDER", "no feed 'order'", "ORDERS")


def test_dbt_vars_that_do_not_parse_name_dbt_vars(tmp_path: Path) -> None:
    proc = cli(tmp_path, "pipeline", DBT_VARS="{business_timezone: UTC")
    assert_refused(proc, "DBT_VARS", "not valid YAML", "fix:")


def test_dbt_vars_with_an_unknown_var_are_refused(tmp_path: Path) -> None:
    proc = cli(tmp_path, "pipeline", DBT_VARS="{session_timeout: 30}")
    assert_refused(proc, "DBT_VARS", "unknown var 'session_timeout'")


def test_the_env_file_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / "settings.env"
    env_file.write_text("# comment\nexport DUCKDB_THREADS=0\nSERVING_KEEP=\n")
    proc = cli(tmp_path, "check", WAREHOUSE_ENV_FILE=str(env_file))
    assert_refused(proc, "bad setting DUCKDB_THREADS='0'")
    assert (
        cli(tmp_path, "check", WAREHOUSE_ENV_FILE=str(env_file), DUCKDB_THREADS="2").returncode == 0
    )


def test_a_malformed_env_file_line_names_the_file_and_line(tmp_path: Path) -> None:
    env_file = tmp_path / "settings.env"
    env_file.write_text("DUCKDB_THREADS=2\nthis is not a setting\n")
    proc = cli(tmp_path, "check", WAREHOUSE_ENV_FILE=str(env_file))
    assert_refused(proc, f"{env_file} line 2", "NAME=value")


def test_a_bad_deployment_file_is_refused_naming_the_file_and_key(tmp_path: Path) -> None:
    config = tmp_path / "warehouse.yaml"
    config.write_text("business_timezone: Mars/Olympus\n")
    proc = cli(tmp_path, "pipeline", WAREHOUSE_CONFIG=str(config))
    assert_refused(proc, "WAREHOUSE_CONFIG", str(config), "Mars/Olympus", "fix:")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--from", "2025-12-31", "--to", "2025-12-01"], ["2025-12-31 is after 2025-12-01"]),
        (["--from", "2019-01-01", "--to", "2019-01-02"], ["before PARTITIONS_START_DATE"]),
        (["--from", "2025-01-01", "--to", "2999-01-01"], ["dt 2999-01-01 is in the future"]),
        (["--from", "2025-13-01"], ["'2025-13-01' is not a date YYYY-MM-DD"]),
        (["--form", "2025-01-01"], ["unrecognized arguments: --form"]),
    ],
)
def test_a_date_range_no_run_can_load_is_refused(
    tmp_path: Path, args: list[str], words: list[str]
) -> None:
    assert_refused(cli(tmp_path, "pipeline", *args), *words)
    assert not (tmp_path / "run").exists()


def test_an_empty_landing_is_one_line(tmp_path: Path) -> None:
    assert_refused(cli(tmp_path, "pipeline"), "no dt=YYYY-MM-DD partitions under LANDING_DIR")


def test_good_settings_pass_the_check(tmp_path: Path) -> None:
    proc = cli(
        tmp_path,
        "check",
        DBT_VARS="{business_timezone: Europe/Berlin, currency: eur}",
        QUARANTINE_MAX_SHARE_EVENTS="0.05",
        DUCKDB_MEMORY_LIMIT="512MB",
        ALERT_EMAIL_TO="ops@example.com, cto@example.com",
    )
    assert proc.returncode == 0, proc.stderr


def test_the_definitions_refuse_a_bad_setting_when_loaded(tmp_path: Path) -> None:
    """`make ui` loads the definitions: its code location error is the same one line."""
    proc = subprocess.run(
        [sys.executable, "-c", "import orchestration.definitions"],
        cwd=settings.REPO_ROOT,
        env={**os.environ, "DUCKDB_THREADS": "none", settings.ENV_FILE_VAR: str(tmp_path / "x")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("orchestration.settings.SettingError: bad setting DUCKDB_THREADS='none'")


# ------------------------------------------------------------------------------ in process


def test_load_takes_the_env_then_dotenv_then_the_file_then_the_default(tmp_path: Path) -> None:
    dotenv = tmp_path / "x.env"
    dotenv.write_text("DUCKDB_THREADS=3\nORPHAN_GRACE_DAYS=5\nQUARANTINE_MAX_SHARE=0.2\n")
    config = tmp_path / "warehouse.yaml"
    config.write_text(
        "quarantine_max_share: 0.3\nfreshness_max_lag_days: 4\n"
        "freshness_max_lag_days_per_feed: {events: 6}\n"
    )
    environ = {settings.ENV_FILE_VAR: str(dotenv), "WAREHOUSE_CONFIG": str(config)}
    loaded = settings.load({**environ, "DUCKDB_THREADS": "4", "FRESHNESS_MAX_LAG_DAYS_ORDERS": "1"})
    assert loaded.duckdb_threads == 4  # the environment over .env
    assert loaded.orphan_grace_days == 5  # .env over the default
    assert loaded.quarantine_max_share == 0.2  # .env over the file
    assert loaded.for_feed("QUARANTINE_MAX_SHARE", "events") == 0.2
    lag = {feed: loaded.for_feed("FRESHNESS_MAX_LAG_DAYS", feed) for feed in FEEDS}
    assert (lag["orders"], lag["events"], lag["customers"]) == (1, 6, 4)  # env, file per feed, file
    assert loaded.serving_keep == 5  # the default


def test_get_resolves_once_and_again_when_an_input_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "warehouse.yaml"
    config.write_text("freshness_max_lag_days: 4\n")
    monkeypatch.setenv("WAREHOUSE_CONFIG", str(config))
    first = settings.get()
    assert settings.get() is first and first.freshness_max_lag_days == 4
    config.write_text("freshness_max_lag_days: 10\n")
    assert settings.get().freshness_max_lag_days == 10
    monkeypatch.setenv("DUCKDB_THREADS", "3")
    assert settings.get().duckdb_threads == 3 == settings.get().duckdb_threads


def test_secrets_stay_out_of_the_repr(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("")
    loaded = settings.load(
        {
            settings.ENV_FILE_VAR: str(tmp_path / "none.env"),
            "WAREHOUSE_CONFIG": str(tmp_path / "empty.yaml"),
            "ALERT_SMTP_PASSWORD": "hunter2",
            "ALERT_WEBHOOK_URL": "https://hooks.example/T0/secret-token",
        }
    )
    assert loaded.alert_smtp_password == "hunter2"
    assert "hunter2" not in repr(loaded) and "secret-token" not in repr(loaded)
