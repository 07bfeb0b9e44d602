"""The deployment config (read by orchestration/settings.py, used by orchestration/deployment.py):
validation, defaults, precedence, and what the ingest assets and the GX suites do with a feed
that is or is not delivered.

The ingest tests materialize the real ingest assets into a real DuckDB file (as
tests/ingest/test_bad_input_matrix.py does); nothing is mocked.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from orchestration import deployment, settings
from orchestration.assets.ingest import (
    LandingResource,
    build_ingest_asset,
    raw_asset_key,
)
from orchestration.contract import FEEDS
from orchestration.deployment import DeploymentConfigError, load_config
from orchestration.partitions import landing_range
from orchestration.quality.gx_validation import read_suite_file
from orchestration.resources import WarehouseResource
from orchestration.settings import EXPECTATIONS_DIR, parse_config

FIXTURE = Path(__file__).parents[1] / "fixtures" / "handwritten_landing"
SIX = ["customers", "products", "orders", "order_items", "payments", "reviews"]


@pytest.fixture(autouse=True)
def _no_ambient_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty config file (the defaults), never a local warehouse.yaml at the repo root."""
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    monkeypatch.setenv("WAREHOUSE_CONFIG", str(empty))
    for var in ("DBT_VARS", *settings.PER_FEED):
        monkeypatch.delenv(var, raising=False)
        for feed in FEEDS:
            monkeypatch.delenv(f"{var}_{feed.upper()}", raising=False)


def write_config(tmp_path: Path, text: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "warehouse.yaml"
    path.write_text(text)
    monkeypatch.setenv("WAREHOUSE_CONFIG", str(path))
    return path


# ------------------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"feeds": ["orders", "clicks"]}, r"feeds: unknown feed\(s\) \['clicks'\]"),
        ({"feeds": "orders"}, "feeds must be a list"),
        ({"business_timezone": "Europe/Berlinn"}, "'Europe/Berlinn' is not an IANA time zone"),
        ({"business_timezone": 1}, "business_timezone must be of the kind of its default"),
        ({"currency": "euro"}, "currency must be a 3-letter ISO 4217 code"),
        ({"quarantine_max_share": 2}, "quarantine_max_share: expected a share between 0 and 1"),
        ({"quarantine_max_share": "1%"}, "quarantine_max_share: expected a share"),
        (
            {"quarantine_max_share_per_feed": {"event": 0.1}},
            r"quarantine_max_share_per_feed: unknown feed\(s\) \['event'\]",
        ),
        ({"freshness_max_lag_days": 1.5}, "freshness_max_lag_days: expected a whole number"),
        (
            {"freshness_max_lag_days_per_feed": {"orders": -1}},
            "freshness_max_lag_days_per_feed.orders: expected a whole number of at least 0",
        ),
        ({"freshness_max_lag_hours": 36}, r"unknown key\(s\) \['freshness_max_lag_hours'\]"),
        ({"dbt_vars": {"session_timeout": 30}}, "dbt_vars: unknown var 'session_timeout'"),
        (
            {"dbt_vars": {"session_timeout_minutes": "30"}},
            "dbt_vars.session_timeout_minutes must be of the kind of its default 30",
        ),
        ({"dbt_vars": {"business_timezone": "Mars/Olympus"}}, "not an IANA time zone"),
        ({"dbt_vars": {"undelivered_feeds": ["events"]}}, "derived from `feeds`"),
        ({"dbt_vars": ["anomaly_z", 3]}, "dbt_vars must be a mapping"),
        ({"feed": ["orders"]}, r"unknown key\(s\) \['feed'\]"),
        (["orders"], "the config must be a YAML mapping"),
    ],
)
def test_invalid_config_names_the_key(doc, message) -> None:
    with pytest.raises(DeploymentConfigError, match=message) as info:
        parse_config(doc, "shop.yaml")
    assert str(info.value).startswith("shop.yaml: ")


def test_config_file_errors_name_the_file(tmp_path, monkeypatch) -> None:
    path = write_config(tmp_path, "feeds: [orders\n", monkeypatch)
    with pytest.raises(DeploymentConfigError, match="not valid YAML") as info:
        load_config()
    assert str(path) in str(info.value)
    monkeypatch.setenv("WAREHOUSE_CONFIG", str(tmp_path / "nope.yaml"))
    with pytest.raises(DeploymentConfigError, match="does not exist"):
        load_config()


def test_defaults_of_an_empty_config_file(tmp_path) -> None:
    config = load_config()
    assert config.source == str(tmp_path / "empty.yaml")
    assert config.feeds == tuple(FEEDS)
    assert config == deployment.Deployment(source=config.source)
    assert config.dbt_vars == {}  # nothing overrides dbt_project.yml
    assert settings.get().deployment.feeds == tuple(FEEDS)
    assert settings.get().for_feed("QUARANTINE_MAX_SHARE", "orders") == 0.01
    assert settings.get().for_feed("FRESHNESS_MAX_LAG_DAYS", "orders") == 2


def test_without_warehouse_config_the_file_at_the_repo_root_if_any(monkeypatch) -> None:
    monkeypatch.delenv("WAREHOUSE_CONFIG")
    local = settings.DEFAULT_CONFIG
    assert load_config().source == (str(local) if local.is_file() else "defaults")


def test_the_example_config_is_valid_and_states_every_key_and_default() -> None:
    path = settings.REPO_ROOT / "warehouse.example.yaml"
    assert set(yaml.safe_load(path.read_text())) == settings.FILE_KEYS
    example = load_config(path)
    assert example.feeds == deployment.Deployment(source="x").feeds
    assert example.settings == {name: settings.BY_NAME[name].default for name in settings.PER_FEED}
    project = settings.dbt_project_vars()
    assert example.dbt_overrides == {
        "business_timezone": project["business_timezone"],
        "currency": project["currency"],
    }


def test_config_is_the_base_of_dbt_vars_and_env_overrides_it(tmp_path, monkeypatch) -> None:
    write_config(
        tmp_path,
        "feeds: [orders, order_items, payments]\nbusiness_timezone: Europe/Berlin\n"
        "currency: eur\ndbt_vars: {session_timeout_minutes: 45, anomaly_z: 2.5}\n",
        monkeypatch,
    )
    undelivered = [f for f in FEEDS if f not in ("orders", "order_items", "payments")]
    assert settings.get().all_dbt_vars == {
        "session_timeout_minutes": 45,
        "anomaly_z": 2.5,
        "business_timezone": "Europe/Berlin",
        "currency": "EUR",
        "undelivered_feeds": undelivered,
    }
    monkeypatch.setenv("DBT_VARS", "{business_timezone: UTC, anomaly_z: 4}")
    got = settings.get().all_dbt_vars
    assert (got["business_timezone"], got["anomaly_z"], got["currency"]) == ("UTC", 4, "EUR")
    assert settings.get().deployment.feeds == ("orders", "order_items", "payments")


def test_quarantine_share_config_then_env(tmp_path, monkeypatch) -> None:
    write_config(
        tmp_path,
        "quarantine_max_share: 0.02\nquarantine_max_share_per_feed: {events: 0.05}\n",
        monkeypatch,
    )
    assert (
        settings.get().for_feed("QUARANTINE_MAX_SHARE", "orders"),
        settings.get().for_feed("QUARANTINE_MAX_SHARE", "events"),
    ) == (
        0.02,
        0.05,
    )
    monkeypatch.setenv("QUARANTINE_MAX_SHARE", "0.03")  # env wins over the file
    assert (
        settings.get().for_feed("QUARANTINE_MAX_SHARE", "orders"),
        settings.get().for_feed("QUARANTINE_MAX_SHARE", "events"),
    ) == (
        0.03,
        0.03,
    )
    monkeypatch.setenv("QUARANTINE_MAX_SHARE_EVENTS", "0.04")
    assert settings.get().for_feed("QUARANTINE_MAX_SHARE", "events") == 0.04


def test_freshness_is_days_in_the_file_and_in_the_env(tmp_path, monkeypatch) -> None:
    write_config(
        tmp_path,
        "freshness_max_lag_days: 3\nfreshness_max_lag_days_per_feed: {marketing_spend: 7}\n",
        monkeypatch,
    )
    lag = settings.get().for_feed
    assert (
        lag("FRESHNESS_MAX_LAG_DAYS", "orders"),
        lag("FRESHNESS_MAX_LAG_DAYS", "marketing_spend"),
    ) == (3, 7)
    monkeypatch.setenv("FRESHNESS_MAX_LAG_DAYS_ORDERS", "1")
    lag = settings.get().for_feed
    assert (lag("FRESHNESS_MAX_LAG_DAYS", "orders"), lag("FRESHNESS_MAX_LAG_DAYS", "events")) == (
        1,
        3,
    )


# ------------------------------------------------------------------------------ lineage, GX


def test_lineage_from_the_manifest_names_the_missing_feeds(tmp_path, monkeypatch) -> None:
    write_config(tmp_path, f"feeds: {SIX}\n", monkeypatch)
    lineage, _ = deployment.lineage()
    assert set(lineage["marts.daily_traffic"]) >= {"events", "orders"}
    assert set(lineage["marts.product_ratings"]) == {"products", "reviews"}
    meta = deployment.missing_feeds_metadata("marts.daily_traffic")
    assert "events" in meta["missing_feeds"].split(", ")
    assert meta["emptied_for_missing_feeds"] == "events"
    assert meta["complete_inputs"] is False
    assert deployment.missing_feeds_of("marts.product_ratings") == ()
    assert deployment.missing_feeds_of("raw.events") == ("events",)
    assert deployment.missing_feeds_of("raw.orders") == ()


def test_suites_of_undelivered_inputs_drop_only_what_needs_rows(tmp_path, monkeypatch) -> None:
    write_config(tmp_path, f"feeds: {SIX}\n", monkeypatch)
    events = read_suite_file(EXPECTATIONS_DIR / "raw.events.json")
    kept, reason = deployment.suite_for_deployment(events)
    dropped = {e["type"] for e in events.expectations} - {e["type"] for e in kept.expectations}
    assert dropped == {"expect_table_row_count_to_be_between"}
    assert len(kept.expectations) == len(events.expectations) - 1
    assert reason == "1 expectation(s) that need rows skipped: feed(s) events not delivered"
    orders = read_suite_file(EXPECTATIONS_DIR / "raw.orders.json")
    assert deployment.suite_for_deployment(orders) == (orders, None)


# ------------------------------------------------------------------------------ ingest assets


def materialize(root: Path, db: Path, feeds: list[str]) -> dg.ExecuteInProcessResult:
    resources = {
        "landing": LandingResource(root=str(root)),
        "warehouse": WarehouseResource(path=str(db)),
    }
    assets = [build_ingest_asset(FEEDS[name]) for name in feeds]
    dates = landing_range(root)
    assert dates is not None
    return dg.materialize(assets, resources=resources, raise_on_error=False, tags=dates.tags())


def test_delivered_feed_without_files_is_a_clear_error(tmp_path, monkeypatch) -> None:
    root = tmp_path / "landing"
    shutil.copytree(FIXTURE / "orders", root / "orders")
    write_config(tmp_path, "feeds: [orders, reviews]\n", monkeypatch)
    result = materialize(root, tmp_path / "w.duckdb", ["orders", "reviews"])
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert failure.step_key == "raw__reviews"
    description = failure.step_failure_data.user_failure_data.description
    assert description.startswith(f"feed reviews: rejected {root / 'reviews'}: ")
    assert "feed reviews is configured as delivered" in description
    assert f"no file was found under {root / 'reviews'}/dt=YYYY-MM-DD/" in description


def test_undelivered_feed_is_an_empty_table_with_delivered_false(tmp_path, monkeypatch) -> None:
    root = tmp_path / "landing"
    for feed in ("orders", "reviews"):  # reviews files present, but not configured: ignored
        shutil.copytree(FIXTURE / feed, root / feed)
    write_config(tmp_path, "feeds: [orders]\n", monkeypatch)
    db = tmp_path / "w.duckdb"
    result = materialize(root, db, ["orders", "reviews", "surveys"])
    assert result.success
    meta = {
        e.asset_key.path[-1]: {k: v.value for k, v in e.metadata.items()}
        for e in result.asset_materializations_for_node("raw__orders")
        + result.asset_materializations_for_node("raw__reviews")
        + result.asset_materializations_for_node("raw__surveys")
    }
    # 6 rows delivered (4 orders, two of them delivered again on a later dt: raw keeps both)
    assert (meta["orders"]["delivered"], meta["orders"]["rows_loaded"]) == (True, 6)
    assert (meta["reviews"]["delivered"], meta["reviews"]["rows_loaded"]) == (False, 0)
    assert (meta["surveys"]["delivered"], meta["surveys"]["files"]) == (False, 0)
    conn = duckdb.connect(str(db), read_only=True)
    try:
        assert conn.execute("SELECT count(*) FROM raw.reviews").fetchone() == (0,)
        columns = [r[0] for r in conn.execute("DESCRIBE raw.surveys").fetchall()]
        assert columns[: len(FEEDS["surveys"].columns)] == list(FEEDS["surveys"].columns)
    finally:
        conn.close()
    assert raw_asset_key("surveys") in {
        e.asset_key for e in result.get_asset_materialization_events()
    }


def test_pipeline_cli_stops_on_an_invalid_config(tmp_path, monkeypatch, capsys) -> None:
    from orchestration import cli

    path = write_config(tmp_path, "business_timezone: Europe/Berlinn\n", monkeypatch)
    assert cli.main(["pipeline"]) == 2  # settings.get(): before anything runs
    err = capsys.readouterr().err
    assert err.startswith(f"error: bad setting WAREHOUSE_CONFIG='{path}': ")
    assert "'Europe/Berlinn' is not an IANA" in err
