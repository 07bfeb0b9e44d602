"""`dbt.<macro>(...)` stand-ins rendering DuckDB SQL close to what dbt-duckdb renders: a macro of
TEMPLATES fills its template with its arguments, any other renders as a call of the same name."""

from __future__ import annotations

from collections.abc import Callable

TEMPLATES = {
    "type_bigint": "bigint",
    "type_int": "integer",
    "type_string": "varchar",
    "type_timestamp": "timestamp",
    "dateadd": "({2} + cast({1} as bigint) * interval 1 {0})",
    "datediff": "date_diff('{2}', {0}, {1})",
    "date_trunc": "date_trunc('{0}', {1})",
}


def concat(fields: list[str]) -> str:
    return " || ".join(str(f) for f in fields)


def __getattr__(name: str) -> Callable[..., str]:
    if name.startswith("__"):
        raise AttributeError(name)

    def _call(*args: object, **kwargs: object) -> str:
        if name in TEMPLATES:
            return TEMPLATES[name].format(*args)
        return f"{name}({', '.join(str(a) for a in args)})"

    return _call
