"""Tests of the sample generator (orchestration.sample): determinism, the landing layout of the
contract, referential integrity, and the planted facts the marts must recover.

Small samples (scale 0.002, 60 / 90 days) read back with DuckDB, as the ingest does.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from orchestration import contract
from orchestration.sample import generate
from orchestration.sample.__main__ import main
from orchestration.sample.generator import MANIFEST, clean

SCALE = 0.002
DAYS = 60
SEED = 7
EXTS = ("csv", "csv.gz", "parquet", "jsonl", "jsonl.gz")


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _reader(ext: str, glob: str) -> str:
    if ext.startswith("csv"):
        return f"read_csv('{glob}', header=true, all_varchar=true, hive_partitioning=false, filename=true)"  # noqa: E501
    if ext == "parquet":
        return f"read_parquet('{glob}', hive_partitioning=false, filename=true)"
    return (
        f"read_json('{glob}', format='newline_delimited', hive_partitioning=false, "
        "filename=true, union_by_name=true)"
    )


def _cast(name: str, sql_type: str) -> str:
    # Offsets (orders' +08:00, events' Z) must be honoured: parse as TIMESTAMPTZ, keep UTC.
    if sql_type == "TIMESTAMP":
        return f'"{name}"::VARCHAR::TIMESTAMPTZ::TIMESTAMP AS "{name}"'
    return f'"{name}"::VARCHAR::{sql_type} AS "{name}"'


def load(root: Path) -> duckdb.DuckDBPyConnection:
    """raw_<feed>: every delivered row, typed, with its partition; <feed>: newest row per key."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for name, feed in contract.FEEDS.items():
        cols = ", ".join(_cast(c, t) for c, t in feed.columns.items())
        parts = [
            f"SELECT {cols}, regexp_extract(filename, 'dt=([0-9-]+)', 1)::DATE AS _dt, "
            f"filename AS _file FROM {_reader(ext, str(root / name / 'dt=*' / f'part-0.{ext}'))}"
            for ext in EXTS
            if list(root.glob(f"{name}/dt=*/part-0.{ext}"))
        ]
        con.execute(f"CREATE TABLE raw_{name} AS " + " UNION ALL ".join(parts))
        key = ", ".join(feed.key)
        recency = f"{feed.updated_column} DESC, _dt DESC" if feed.updated_column else "_dt DESC"
        con.execute(
            f"CREATE TABLE {name} AS SELECT * EXCLUDE (_rn) FROM (SELECT *, row_number() OVER "
            f"(PARTITION BY {key} ORDER BY {recency}) AS _rn FROM raw_{name}) WHERE _rn = 1"
        )
    return con


def one(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    return con.execute(sql).fetchone()[0]


def rows(con: duckdb.DuckDBPyConnection, table: str, where: str = "TRUE") -> int:
    return int(one(con, f"SELECT count(*) FROM {table} WHERE {where}"))


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("sample")
    return out, generate(out, SCALE, SEED, days=DAYS)


@pytest.fixture(scope="module")
def con(sample: tuple[Path, dict]) -> duckdb.DuckDBPyConnection:
    return load(sample[0])


def test_same_seed_gives_identical_files(sample: tuple[Path, dict], tmp_path: Path) -> None:
    generate(tmp_path, SCALE, SEED, days=DAYS)
    assert _digests(tmp_path) == _digests(sample[0])


def test_another_seed_gives_other_data(sample: tuple[Path, dict], tmp_path: Path) -> None:
    generate(tmp_path, SCALE, SEED + 1, days=DAYS)
    mine, theirs = _digests(sample[0]), _digests(tmp_path)
    same = [f for f in mine if theirs.get(f) == mine[f]]
    assert len(same) < len(mine) // 10, same[:10]


def test_every_feed_has_partitions_in_the_range(sample: tuple[Path, dict]) -> None:
    root, manifest = sample
    days = {p.name for p in (root / "orders").iterdir()}
    assert f"dt={manifest['start']}" in days
    for feed in contract.FEEDS:
        parts = sorted(p.name for p in (root / feed).iterdir())
        assert parts, feed
        assert all(manifest["start"] <= p[3:] <= manifest["end"] for p in parts), feed
        files = [f for p in (root / feed).iterdir() for f in p.iterdir()]
        assert all(f.name.startswith("part-0.") for f in files), feed


def test_formats_per_feed(sample: tuple[Path, dict]) -> None:
    root, _ = sample
    ext = {
        feed: {f.name.split(".", 1)[1] for f in (root / feed).glob("dt=*/*")}
        for feed in contract.FEEDS
    }
    assert ext["events"] == {"jsonl.gz", "parquet"}
    first_parquet = min(p.parent.name for p in (root / "events").glob("dt=*/part-0.parquet"))
    last_json = max(p.parent.name for p in (root / "events").glob("dt=*/part-0.jsonl.gz"))
    assert last_json < first_parquet == "dt=2025-01-15"
    assert ext["customers"] == ext["order_items"] == {"csv.gz"}
    assert ext["orders"] == ext["refunds"] == ext["surveys"] == {"csv"}
    assert ext["products"] == ext["payments"] == {"parquet"}
    assert ext["reviews"] == ext["experiment_assignments"] == {"jsonl"}
    assert ext["tickets"] == {"jsonl.gz"}


def _columns_of(path: Path) -> list[str]:
    name = path.name
    if name.endswith(".parquet"):
        return pq.read_schema(path).names
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        first = f.readline()
    if ".csv" in name:
        return [c.strip('"') for c in first.rstrip("\n").split(",")]
    return list(json.loads(first))


def test_every_file_has_exactly_the_contract_columns(sample: tuple[Path, dict]) -> None:
    root, _ = sample
    for feed, spec in contract.FEEDS.items():
        for path in sorted((root / feed).glob("dt=*/part-0.*")):
            assert _columns_of(path) == list(spec.columns), path


def test_duckdb_reads_the_contract_columns(sample: tuple[Path, dict]) -> None:
    root, _ = sample
    con = duckdb.connect()
    for feed, spec in contract.FEEDS.items():
        for ext in EXTS:
            if not list(root.glob(f"{feed}/dt=*/part-0.{ext}")):
                continue
            rel = _reader(ext, str(root / feed / "dt=*" / f"part-0.{ext}"))
            names = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()]
            assert names == [*spec.columns, "filename"], (feed, ext)


def test_text_timestamp_styles(sample: tuple[Path, dict]) -> None:
    root, _ = sample
    orders = next((root / "orders").glob("dt=*/part-0.csv")).read_text().splitlines()
    assert orders[1].split(",")[3].endswith('+08:00"') or "+08:00" in orders[1]
    events = next((root / "events").glob("dt=*/part-0.jsonl.gz"))
    first = json.loads(gzip.open(events, "rt").readline())
    assert first["event_ts"].endswith("Z")
    refunds = next((root / "customers").glob("dt=*/part-0.csv.gz"))
    row = gzip.open(refunds, "rt").read().splitlines()[1]
    assert "T" not in row.split(",")[1] and len(row.split(",")[1].strip('"')) == 19


def test_all_values_cast_to_the_contract_types(con: duckdb.DuckDBPyConnection) -> None:
    for feed, spec in contract.FEEDS.items():
        assert one(con, f"SELECT count(*) FROM raw_{feed}") > 0, feed
        for col in (*spec.key, *spec.required):
            assert one(con, f'SELECT count(*) FROM raw_{feed} WHERE "{col}" IS NULL') == 0, (
                feed,
                col,
            )


def test_domains(con: duckdb.DuckDBPyConnection) -> None:
    def values(sql: str) -> set:
        return {r[0] for r in con.execute(sql).fetchall()}

    assert values("SELECT DISTINCT status FROM raw_orders") <= set(contract.ORDER_STATUSES)
    assert values("SELECT DISTINCT status FROM payments") == set(contract.PAYMENT_STATUSES)
    assert values("SELECT DISTINCT event_type FROM events") == set(contract.EVENT_TYPES)
    assert values("SELECT DISTINCT page_type FROM events WHERE page_type IS NOT NULL") <= set(
        contract.PAGE_TYPES
    )
    assert values("SELECT DISTINCT device FROM events") == set(contract.DEVICES)
    assert values("SELECT DISTINCT survey_type FROM surveys") == set(contract.SURVEY_TYPES)
    assert values("SELECT DISTINCT variant FROM experiment_assignments") == {
        "control",
        "treatment",
    }
    assert rows(con, "reviews", "rating NOT BETWEEN 1 AND 5") == 0
    nps = "survey_type = 'nps' AND score NOT BETWEEN 0 AND 10"
    csat = "survey_type = 'csat' AND score NOT BETWEEN 1 AND 5"
    assert rows(con, "surveys", f"({nps}) OR ({csat})") == 0
    # page_type only on page views, order_id only on purchases, placement only on ads.
    assert rows(con, "events", "page_type IS NOT NULL AND event_type <> 'page_view'") == 0
    assert rows(con, "events", "(order_id IS NOT NULL) <> (event_type = 'purchase')") == 0
    ads = "('impression', 'click')"
    assert rows(con, "events", f"placement IS NOT NULL AND event_type NOT IN {ads}") == 0


def test_keys_are_unique_after_taking_the_newest_row(con: duckdb.DuckDBPyConnection) -> None:
    for feed, spec in contract.FEEDS.items():
        key = ", ".join(spec.key)
        recency = spec.updated_column or "_dt"
        ties = one(
            con,
            f"SELECT count(*) FROM (SELECT {key}, {recency}, count(*) AS n FROM raw_{feed} "
            f"GROUP BY ALL HAVING n > 1)",
        )
        assert ties == 0, feed


def test_redelivered_rows_are_newer(con: duckdb.DuckDBPyConnection) -> None:
    # Orders: first row in the order-day partition with an early status, later rows newer.
    first = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE status IN ('created', 'paid')), "
        "count(*) FILTER (WHERE _dt = (order_ts + INTERVAL 8 HOUR)::DATE) FROM ("
        "SELECT *, row_number() OVER (PARTITION BY order_id ORDER BY updated_ts) AS k "
        "FROM raw_orders) WHERE k = 1"
    ).fetchone()
    assert first[0] == first[1] == first[2]
    assert rows(con, "raw_orders") > 2 * rows(con, "orders")
    assert rows(con, "raw_customers") > rows(con, "customers")
    assert rows(con, "raw_products") > rows(con, "products")
    # The partition of a row is the business day of its update (customers from before the
    # range come in the first partition).
    local_day = "(updated_ts + INTERVAL 8 HOUR)::DATE"
    assert rows(con, "raw_orders", f"_dt <> {local_day}") == 0
    assert rows(con, "raw_customers", f"_dt < {local_day}") == 0


def test_lifecycle_timestamps_fit_the_status(con: duckdb.DuckDBPyConnection) -> None:
    bad = one(
        con,
        """SELECT count(*) FROM orders WHERE
        (status IN ('shipped', 'delivered', 'returned') AND shipped_ts IS NULL)
        OR (status IN ('delivered', 'returned') AND delivered_ts IS NULL)
        OR (status = 'cancelled') <> (cancelled_ts IS NOT NULL)
        OR (status IN ('created', 'paid', 'cancelled') AND delivered_ts IS NOT NULL)
        OR shipped_ts < order_ts OR delivered_ts < shipped_ts
        OR promised_delivery_date NOT BETWEEN (order_ts + INTERVAL 8 HOUR)::DATE + 2
                                       AND (order_ts + INTERVAL 8 HOUR)::DATE + 5""",
    )
    assert bad == 0
    late = one(
        con,
        "SELECT avg(((delivered_ts + INTERVAL 8 HOUR)::DATE > promised_delivery_date)::INT) "
        "FROM orders WHERE delivered_ts IS NOT NULL",
    )
    assert 0.03 < late < 0.25
    paid = one(con, "SELECT count(DISTINCT order_id) FROM payments WHERE status = 'success'")
    assert rows(con, "orders", "status <> 'created' AND status <> 'cancelled'") <= paid
    returns = one(
        con,
        "SELECT count(*) FROM refunds r JOIN orders o USING (order_id) WHERE "
        "r.is_return AND (o.status <> 'returned' OR r.refund_ts < o.delivered_ts)",
    )
    assert returns == 0


def test_references_resolve(con: duckdb.DuckDBPyConnection) -> None:
    def orphans(child: str, col: str, parent: str, pcol: str, where: str = "TRUE") -> int:
        return one(
            con,
            f"SELECT count(*) FROM raw_{child} c WHERE {where} AND c.{col} IS NOT NULL AND "
            f"c.{col} NOT IN (SELECT {pcol} FROM {parent})",
        )

    for child in ("order_items", "payments", "refunds", "reviews", "tickets"):
        assert orphans(child, "order_id", "orders", "order_id") == 0, child
    assert orphans("events", "order_id", "orders", "order_id", "event_type = 'purchase'") == 0
    assert rows(con, "events", "event_type = 'purchase'") > 0
    for child in ("orders", "reviews", "surveys", "tickets", "events"):
        assert orphans(child, "customer_id", "customers", "customer_id") == 0, child
    assert orphans("customers", "referrer_customer_id", "customers", "customer_id") == 0
    for child in ("order_items", "reviews", "events"):
        assert orphans(child, "product_id", "products", "product_id") == 0, child
    assert orphans("events", "utm_campaign", "campaigns", "campaign_id") == 0
    assert orphans("marketing_spend", "campaign_id", "campaigns", "campaign_id") == 0
    assert orphans("experiment_assignments", "visitor_id", "events", "visitor_id") == 0
    # Referrers signed up earlier; campaign utm only inside the campaign's window.
    referrers = "customers c JOIN customers r ON c.referrer_customer_id = r.customer_id"
    assert rows(con, referrers, "r.signup_ts > c.signup_ts") == 0
    utm = "events e JOIN campaigns c ON e.utm_campaign = c.campaign_id"
    day = "(e.event_ts + INTERVAL 8 HOUR)::DATE"
    assert rows(con, utm, f"{day} NOT BETWEEN c.start_date AND c.end_date") == 0


def test_orders_match_their_purchase_events(con: duckdb.DuckDBPyConnection) -> None:
    lag = con.execute(
        "SELECT min(epoch(e.event_ts) - epoch(o.order_ts)), max(epoch(e.event_ts) - "
        "epoch(o.order_ts)), count(*) FROM events e JOIN orders o USING (order_id) "
        "WHERE e.event_type = 'purchase'"
    ).fetchone()
    assert 0 <= lag[0] and lag[1] <= 60
    own = rows(con, "orders", "platform IN ('app', 'web', 'mini_program')")
    assert 0.9 * own < lag[2] <= own
    # Purchases are made by the logged-in customer who owns the order.
    purchases = "events e JOIN orders o USING (order_id)"
    assert rows(con, purchases, "e.customer_id IS DISTINCT FROM o.customer_id") == 0
    # Payment amount = merchandise - discount + shipping.
    merch = "(SELECT order_id, sum(quantity * unit_price) AS merch FROM order_items GROUP BY 1)"
    paid = f"payments p JOIN orders o USING (order_id) JOIN {merch} i USING (order_id)"
    assert rows(con, paid, "p.amount <> i.merch - o.discount_amount + o.shipping_fee") == 0


def test_sessions_are_recovered_by_the_30_minute_rule(
    sample: tuple[Path, dict], con: duckdb.DuckDBPyConnection
) -> None:
    sessions = one(
        con,
        """SELECT count(*) FROM (SELECT event_ts - lag(event_ts) OVER (PARTITION BY visitor_id
        ORDER BY event_ts, event_id) AS gap FROM events)
        WHERE gap IS NULL OR gap > INTERVAL 30 MINUTE""",
    )
    assert sessions == sample[1]["stats"]["sessions"]
    firsts = con.execute(
        """SELECT count(*), count(*) FILTER (WHERE referrer IS NOT NULL OR utm_medium IS NOT NULL)
        FROM (SELECT *, lag(event_ts) OVER (PARTITION BY visitor_id ORDER BY event_ts, event_id)
        AS prev FROM events) WHERE prev IS NULL OR event_ts - prev > INTERVAL 30 MINUTE"""
    ).fetchone()
    assert 0.3 * firsts[0] < firsts[1] < 0.9 * firsts[0]
    later = one(
        con,
        """SELECT count(*) FROM (SELECT *, lag(event_ts) OVER (PARTITION BY
        visitor_id ORDER BY event_ts, event_id) AS prev FROM events)
        WHERE event_ts - prev <= INTERVAL 30 MINUTE AND utm_source IS NOT NULL""",
    )
    assert later == 0


def test_manifest_matches_the_files(
    sample: tuple[Path, dict], con: duckdb.DuckDBPyConnection
) -> None:
    root, manifest = sample
    assert json.loads((root / MANIFEST).read_text()) == manifest
    assert (root / MANIFEST).read_text() == json.dumps(manifest, sort_keys=True, indent=2) + "\n"
    assert (manifest["seed"], manifest["scale"], manifest["days"]) == (SEED, SCALE, DAYS)
    for feed in contract.FEEDS:
        assert manifest["rows"][feed] == rows(con, f"raw_{feed}"), feed
        assert manifest["files"][feed] == len(list((root / feed).glob("dt=*/part-0.*"))), feed


def test_manifest_lists_the_planted_facts(
    sample: tuple[Path, dict], con: duckdb.DuckDBPyConnection
) -> None:
    planted = sample[1]["planted"]
    effects = {k: v["has_effect"] for k, v in planted["experiments"].items()}
    assert effects == {"exp_checkout_button": True, "exp_banner_color": False}
    assert set(one(con, "SELECT list(DISTINCT experiment_id) FROM experiment_assignments")) == set(
        effects
    )
    anomalies = planted["anomalies"]
    assert sorted(a["kind"] for a in anomalies) == [
        "flash_sale_spike",
        "payment_outage",
        "traffic_drop",
    ]
    start = one(con, "SELECT min(_dt) FROM raw_orders")
    for a in anomalies:
        assert a["kpis"] and (one(con, f"SELECT DATE '{a['date']}' - DATE '{start}'") >= 35)
    assert len({one(con, f"SELECT dayofweek(DATE '{a['date']}')") for a in anomalies}) == 3
    lift = planted["campaign_lift"]
    window = f"start_date = '{lift['start_date']}' AND end_date = '{lift['end_date']}'"
    assert rows(con, "campaigns", f"campaign_id = '{lift['campaign_id']}' AND {window}") == 1


def test_lift_campaign_lifts_sessions_and_orders(
    sample: tuple[Path, dict], con: duckdb.DuckDBPyConnection
) -> None:
    lift = sample[1]["planted"]["campaign_lift"]

    def per_window(sql_day: str, table: str) -> tuple[int, int]:
        counts = dict(
            con.execute(
                f"SELECT {sql_day} BETWEEN '{lift['start_date']}' AND '{lift['end_date']}', "
                f"count(*) FROM {table} WHERE {sql_day} BETWEEN '{lift['baseline_start_date']}' "
                f"AND '{lift['end_date']}' GROUP BY 1"
            ).fetchall()
        )
        return counts[False], counts[True]

    before, during = per_window("(order_ts + INTERVAL 8 HOUR)::DATE", "orders")
    assert during > 1.1 * before
    before, during = per_window("(event_ts + INTERVAL 8 HOUR)::DATE", "events")
    assert during > 1.2 * before
    assert rows(con, "events", f"utm_campaign = '{lift['campaign_id']}'") > 0


@pytest.fixture(scope="module")
def quarter(tmp_path_factory: pytest.TempPathFactory) -> tuple[duckdb.DuckDBPyConnection, dict]:
    """The end-to-end size: scale 0.002 over 90 days, default seed."""
    out = tmp_path_factory.mktemp("quarter")
    manifest = generate(out, SCALE, 42, days=90)
    return load(out), manifest


def test_experiment_effect_is_significant_and_the_null_is_not(
    quarter: tuple[duckdb.DuckDBPyConnection, dict],
) -> None:
    con, manifest = quarter
    for exp, info in manifest["planted"]["experiments"].items():
        rows = dict(
            (r[0], r[1:])
            for r in con.execute(
                f"""WITH a AS (SELECT * FROM experiment_assignments WHERE experiment_id = '{exp}'),
                c AS (SELECT DISTINCT a.visitor_id FROM a JOIN events e ON e.visitor_id =
                      a.visitor_id AND e.event_type = 'purchase' AND e.event_ts >= a.assigned_ts)
                SELECT variant, count(*), count(c.visitor_id) FROM a LEFT JOIN c USING (visitor_id)
                GROUP BY 1"""
            ).fetchall()
        )
        (n0, c0), (n1, c1) = rows["control"], rows["treatment"]
        assert 0.45 < n1 / (n0 + n1) < 0.55
        p0, p1, pooled = c0 / n0, c1 / n1, (c0 + c1) / (n0 + n1)
        z = (p1 - p0) / math.sqrt(pooled * (1 - pooled) * (1 / n0 + 1 / n1))
        p_value = math.erfc(abs(z) / math.sqrt(2))
        if info["has_effect"]:
            assert p1 > 1.5 * p0 and p_value < 0.05, (p0, p1, p_value)
        else:
            assert p_value > 0.05, (p0, p1, p_value)


DAILY_KPIS = """
WITH ev AS (SELECT visitor_id, event_ts, event_type, CASE WHEN lag(event_ts) OVER w IS NULL
              OR event_ts - lag(event_ts) OVER w > INTERVAL 30 MINUTE THEN 1 ELSE 0 END AS new
            FROM events WINDOW w AS (PARTITION BY visitor_id ORDER BY event_ts, event_id)),
s AS (SELECT visitor_id, sum(new) OVER (PARTITION BY visitor_id ORDER BY event_ts
        ROWS UNBOUNDED PRECEDING) AS sid, event_ts, event_type FROM ev),
ss AS (SELECT (min(event_ts) + INTERVAL 8 HOUR)::DATE AS d, max((event_type = 'purchase')::INT)
         AS buy FROM s GROUP BY visitor_id, sid),
sd AS (SELECT d, count(*) AS sessions, avg(buy) AS session_conversion_rate FROM ss GROUP BY d),
paid AS (SELECT DISTINCT order_id FROM payments WHERE status = 'success'),
od AS (SELECT (o.order_ts + INTERVAL 8 HOUR)::DATE AS d, sum(i.merch) AS gmv,
         count(p.order_id) AS paid_orders FROM orders o
       JOIN (SELECT order_id, sum(quantity * unit_price) AS merch FROM order_items GROUP BY 1) i
         USING (order_id) LEFT JOIN paid p USING (order_id) GROUP BY 1),
pd AS (SELECT (attempt_ts + INTERVAL 8 HOUR)::DATE AS d,
         avg((status = 'success')::INT) AS payment_success_rate FROM payments GROUP BY 1)
SELECT d, sessions, session_conversion_rate, coalesce(gmv, 0)::DOUBLE AS gmv,
       coalesce(paid_orders, 0) AS paid_orders, payment_success_rate
FROM sd LEFT JOIN od USING (d) LEFT JOIN pd USING (d)
"""


def test_planted_anomalies_trip_the_catalog_z_score(
    quarter: tuple[duckdb.DuckDBPyConnection, dict],
) -> None:
    """kpi_anomalies as the catalog defines it: the day against the mean and sample standard
    deviation of the same weekday in the four previous weeks, |z| > 3."""
    con, manifest = quarter
    con.execute(f"CREATE OR REPLACE TABLE daily AS {DAILY_KPIS}")
    for a in manifest["planted"]["anomalies"]:
        for kpi in a["kpis"]:
            value, mean, sd = con.execute(
                f"""SELECT (SELECT {kpi} FROM daily WHERE d = DATE '{a["date"]}'),
                avg({kpi}), stddev_samp({kpi}) FROM daily WHERE d IN (SELECT DATE '{a["date"]}'
                - 7 * k::INTEGER FROM range(1, 5) t(k))"""
            ).fetchone()
            assert sd and abs((value - mean) / sd) > 3, (a, kpi, value, mean, sd)


def test_short_ranges_plant_no_anomalies(tmp_path: Path) -> None:
    manifest = generate(tmp_path, 0.001, 3, days=20)
    assert manifest["planted"]["anomalies"] == []
    assert manifest["rows"]["orders"] > 0


def test_clean_removes_only_what_the_generator_writes(tmp_path: Path) -> None:
    generate(tmp_path, 0.001, 1, days=3)
    (tmp_path / "keep.txt").write_text("mine")
    (tmp_path / "other_feed").mkdir()
    clean(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt", "other_feed"]


def test_cli_writes_and_summarises(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "landing"
    args = ["--scale", "0.001", "--seed", "5", "--days", "10", "--start", "2025-06-01"]
    assert main([*args, "--out", str(out), "--clean"]) == 0
    text = capsys.readouterr().out
    assert "orders" in text and "total" in text and " s" in text
    manifest = json.loads((out / MANIFEST).read_text())
    assert (manifest["start"], manifest["end"], manifest["seed"]) == ("2025-06-01", "2025-06-10", 5)
    assert (out / "orders" / "dt=2025-06-01").is_dir()


PAID_UNITS = """
SELECT i.product_id, (o.order_ts + INTERVAL 8 HOUR)::DATE AS d, sum(i.quantity) AS units
FROM order_items i JOIN orders o USING (order_id)
WHERE order_id IN (SELECT order_id FROM payments WHERE status = 'success')
GROUP BY ALL
"""


def test_second_round_plants_are_in_the_manifest(sample: tuple[Path, dict]) -> None:
    planted = sample[1]["planted"]
    assert {
        "product_collapse",
        "search_terms",
        "launches",
        "purchase_hours",
        "complaint_spike",
        "churn",
    } <= set(planted)
    assert set(planted["product_collapse"]) == {"product_id", "date", "baseline_units"}
    assert set(planted["search_terms"]) == {"top_term", "zero_conversion_term"}
    assert all(set(x) == {"product_id", "launch_date", "weekly_units"} for x in planted["launches"])
    assert set(planted["purchase_hours"]) == {"peak_hour", "trough_hour"}
    assert set(planted["complaint_spike"]) == {"category", "month"}
    assert set(planted["churn"]) == {"prone_customers", "signal"}


def test_search_queries_differ_in_case_and_spaces(con: duckdb.DuckDBPyConnection) -> None:
    assert rows(con, "events", "(event_type = 'search') <> (search_query IS NOT NULL)") == 0
    raw, normalised = con.execute(
        "SELECT count(DISTINCT search_query), count(DISTINCT lower(trim(search_query))) FROM events"
    ).fetchone()
    assert raw > 2 * normalised


def test_collapse_and_launches_as_written(
    sample: tuple[Path, dict], con: duckdb.DuckDBPyConnection
) -> None:
    planted = sample[1]["planted"]
    con.execute(f"CREATE OR REPLACE TABLE units AS {PAID_UNITS}")

    def units(product: str, day: str, offsets: range) -> list[int]:
        got = dict(
            con.execute(f"SELECT d, units FROM units WHERE product_id = '{product}'").fetchall()
        )
        base = date.fromisoformat(day)
        return [int(got.get(base + timedelta(days=k), 0)) for k in offsets]

    c = planted["product_collapse"]
    baseline = units(c["product_id"], c["date"], range(-28, 0, 7))
    assert min(baseline) >= 10 and sum(baseline) / 4 == c["baseline_units"]
    assert max(units(c["product_id"], c["date"], range(7))) <= 0.2 * c["baseline_units"]
    for launch in planted["launches"]:
        product, first = launch["product_id"], launch["launch_date"]
        assert one(con, f"SELECT launch_date FROM products WHERE product_id = '{product}'") == (
            date.fromisoformat(first)
        )
        assert one(con, f"SELECT min(_dt) FROM raw_products WHERE product_id = '{product}'") == (
            date.fromisoformat(first)
        )
        assert rows(con, "units", f"product_id = '{product}' AND d < DATE '{first}'") == 0
        daily = units(product, first, range(7 * len(launch["weekly_units"])))
        weekly = [sum(daily[k : k + 7]) for k in range(0, len(daily), 7)]
        assert weekly == launch["weekly_units"]
    assert rows(con, "products", f"launch_date >= DATE '{sample[1]['start']}'") == len(
        planted["launches"]
    )


def test_churners_give_a_signal_after_their_last_paid_order(
    sample: tuple[Path, dict], con: duckdb.DuckDBPyConnection
) -> None:
    prone = sample[1]["planted"]["churn"]["prone_customers"]
    assert prone
    ids = ", ".join(f"'{c}'" for c in prone)
    signalled = one(
        con,
        f"""WITH last_paid AS (
              SELECT customer_id, max(order_ts) AS ts FROM orders WHERE order_id IN
                (SELECT order_id FROM payments WHERE status = 'success') GROUP BY 1),
            signal AS (
              SELECT customer_id, opened_ts AS ts FROM tickets WHERE is_complaint
              UNION ALL SELECT customer_id, review_ts FROM reviews WHERE rating <= 2)
            SELECT count(DISTINCT customer_id) FROM signal JOIN last_paid USING (customer_id)
            WHERE customer_id IN ({ids}) AND signal.ts > last_paid.ts""",
    )
    assert signalled == len(prone)
