"""`dbt.<macro>(...)` stand-ins rendering DuckDB SQL close to what dbt-duckdb renders."""

from __future__ import annotations

from collections.abc import Callable


def dateadd(datepart: str, interval: object, from_date_or_timestamp: str) -> str:
    return f"({from_date_or_timestamp} + cast({interval} as bigint) * interval 1 {datepart})"


def datediff(first_date: str, second_date: str, datepart: str) -> str:
    return f"date_diff('{datepart}', {first_date}, {second_date})"


def date_trunc(datepart: str, date: str) -> str:
    return f"date_trunc('{datepart}', {date})"


def concat(fields: list[str]) -> str:
    return " || ".join(str(f) for f in fields)


def type_bigint() -> str:
    return "bigint"


def type_int() -> str:
    return "integer"


def type_string() -> str:
    return "varchar"


def type_timestamp() -> str:
    return "timestamp"


def type_numeric() -> str:
    return "decimal(28, 6)"


def type_boolean() -> str:
    return "boolean"


def __getattr__(name: str) -> Callable[..., str]:
    """Any other cross-db macro renders as a function call of the same name."""
    if name.startswith("__"):
        raise AttributeError(name)

    def _call(*args: object, **kwargs: object) -> str:
        return f"{name}({', '.join(str(a) for a in args)})"

    return _call
