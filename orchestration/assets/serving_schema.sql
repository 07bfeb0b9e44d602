-- The serving file's own tables, created empty by each publish in the attached `serving_new`
-- before it copies the marts: the publish log, and the `ops` schema of how the data got there
-- (orchestration/assets/ops.py fills it; docs/bi.md describes it). Every table and column is
-- commented, like the marts.
create schema serving_new.marts;
create schema serving_new.ops;

-- one row per publish so far; a log carried from an older version lacks later columns (NULL)
create table serving_new.marts._publish_log (
    version bigint,
    published_at timestamp,
    run_id varchar,
    row_counts json,
    checks_passed integer,
    dagster_version varchar,
    duckdb_version varchar,
    storage_version varchar
);
comment on table serving_new.marts._publish_log is 'One row per publish of the serving database so far, oldest first, carried from version to version; the newest row is the version of this file (docs/bi.md).';
comment on column serving_new.marts._publish_log.version is 'Publish number (versions/v<version>); NULL from before versioning.';
comment on column serving_new.marts._publish_log.published_at is 'UTC time of the publish.';
comment on column serving_new.marts._publish_log.run_id is 'Dagster run that published.';
comment on column serving_new.marts._publish_log.row_counts is 'JSON {mart: rows} of the marts in that publish.';
comment on column serving_new.marts._publish_log.checks_passed is 'Asset checks that passed in that run before the publish.';
comment on column serving_new.marts._publish_log.dagster_version is 'Dagster version of the writer.';
comment on column serving_new.marts._publish_log.duckdb_version is 'DuckDB version of the writer.';
comment on column serving_new.marts._publish_log.storage_version is 'Storage version: DuckDB clients from that version on read it.';

create table serving_new.ops.check_results (
    run_id varchar,
    evaluated_at timestamp,
    asset varchar,
    check_name varchar,
    passed boolean,
    severity varchar
);
comment on table serving_new.ops.check_results is 'Every asset check evaluation of the runs so far, failed runs included.';
comment on column serving_new.ops.check_results.run_id is 'Dagster run of the evaluation.';
comment on column serving_new.ops.check_results.evaluated_at is 'UTC time of the evaluation.';
comment on column serving_new.ops.check_results.asset is 'Asset checked, e.g. marts/daily_sales.';
comment on column serving_new.ops.check_results.check_name is 'Check name (a GX suite, a dbt test, a landing rule).';
comment on column serving_new.ops.check_results.passed is 'Whether the check passed.';
comment on column serving_new.ops.check_results.severity is 'ERROR (blocks what is downstream) or WARN.';

create table serving_new.ops.quarantine_daily (
    feed varchar,
    partition_dt date,
    reason varchar,
    rows bigint
);
comment on table serving_new.ops.quarantine_daily is 'Rows set aside at ingest, per feed, landing partition and reason.';
comment on column serving_new.ops.quarantine_daily.feed is 'Feed of the landing contract.';
comment on column serving_new.ops.quarantine_daily.partition_dt is 'Landing partition (dt=) the rows came in.';
comment on column serving_new.ops.quarantine_daily.reason is 'Why the rows were quarantined.';
comment on column serving_new.ops.quarantine_daily.rows is 'Rows quarantined.';

create table serving_new.ops.feed_freshness (
    feed varchar,
    delivered boolean,
    newest_partition_dt date,
    last_loaded_at timestamp,
    lag_days integer,
    max_lag_days integer,
    fresh boolean
);
comment on table serving_new.ops.feed_freshness is 'Each feed of the contract when the file was published.';
comment on column serving_new.ops.feed_freshness.feed is 'Feed of the landing contract.';
comment on column serving_new.ops.feed_freshness.delivered is 'Whether the deployment delivers it (config `feeds`).';
comment on column serving_new.ops.feed_freshness.newest_partition_dt is 'Newest landing partition holding a file.';
comment on column serving_new.ops.feed_freshness.last_loaded_at is 'UTC time of its last load.';
comment on column serving_new.ops.feed_freshness.lag_days is 'Days from newest_partition_dt to the publish day (UTC).';
comment on column serving_new.ops.feed_freshness.max_lag_days is 'FRESHNESS_MAX_LAG_DAYS of the feed.';
comment on column serving_new.ops.feed_freshness.fresh is 'lag_days <= max_lag_days.';

create table serving_new.ops.deployment (
    currency varchar,
    business_timezone varchar
);
comment on table serving_new.ops.deployment is 'The deployment''s settings that give the marts their meaning (one row).';
comment on column serving_new.ops.deployment.currency is 'ISO 4217 code of every money column.';
comment on column serving_new.ops.deployment.business_timezone is 'Time zone of every business date.';

create table serving_new.ops.publish_log (
    version bigint,
    published_at timestamp,
    run_id varchar,
    row_counts json,
    checks_passed integer,
    dagster_version varchar,
    duckdb_version varchar,
    storage_version varchar
);
comment on table serving_new.ops.publish_log is 'A copy of marts._publish_log.';
comment on column serving_new.ops.publish_log.version is 'Publish number (versions/v<version>); NULL from before versioning.';
comment on column serving_new.ops.publish_log.published_at is 'UTC time of the publish.';
comment on column serving_new.ops.publish_log.run_id is 'Dagster run that published.';
comment on column serving_new.ops.publish_log.row_counts is 'JSON {mart: rows} of the marts in that publish.';
comment on column serving_new.ops.publish_log.checks_passed is 'Asset checks that passed in that run before the publish.';
comment on column serving_new.ops.publish_log.dagster_version is 'Dagster version of the writer.';
comment on column serving_new.ops.publish_log.duckdb_version is 'DuckDB version of the writer.';
comment on column serving_new.ops.publish_log.storage_version is 'Storage version: DuckDB clients from that version on read it.';
