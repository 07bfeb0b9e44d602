"""`adapter` stand-ins: a dispatched macro renders as `name(args)`, or as the fixed SQL below
when it is not an expression; no relation exists."""

from __future__ import annotations

from collections.abc import Callable

NON_EXPRESSION_MACROS: dict[str, str] = {
    "type_money": "decimal(18, 2)",
    "date_series": "select cast({0} as date) as date_day",
}


def dispatch(macro_name: str, macro_namespace: str | None = None) -> Callable[..., str]:
    def _render(*args: object, **kwargs: object) -> str:
        if macro_name in NON_EXPRESSION_MACROS:
            return NON_EXPRESSION_MACROS[macro_name].format(*args)
        return f"{macro_name}({', '.join(str(a) for a in args)})"

    return _render


def get_relation(database: str, schema: str, identifier: str) -> None:
    """No warehouse while linting: no relation exists (int_batch_visitors' first build)."""
    return None
