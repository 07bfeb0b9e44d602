"""`dbt.<macro>(...)` stand-ins rendering DuckDB SQL close to what dbt-duckdb renders."""

from __future__ import annotations

from collections.abc import Callable

TYPES = {
    "type_bigint": "bigint",
    "type_int": "integer",
    "type_string": "varchar",
    "type_timestamp": "timestamp",
}


def dateadd(datepart: str, interval: object, from_date_or_timestamp: str) -> str:
    return f"({from_date_or_timestamp} + cast({interval} as bigint) * interval 1 {datepart})"


def datediff(first_date: str, second_date: str, datepart: str) -> str:
    return f"date_diff('{datepart}', {first_date}, {second_date})"


def date_trunc(datepart: str, date: str) -> str:
    return f"date_trunc('{datepart}', {date})"


def concat(fields: list[str]) -> str:
    return " || ".join(str(f) for f in fields)


def __getattr__(name: str) -> Callable[..., str]:
    """A `type_*` macro renders its DuckDB type; any other one as a call of the same name."""
    if name.startswith("__"):
        raise AttributeError(name)

    def _call(*args: object, **kwargs: object) -> str:
        return TYPES.get(name) or f"{name}({', '.join(str(a) for a in args)})"

    return _call
