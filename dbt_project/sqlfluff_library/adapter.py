"""`adapter` stand-ins: a dispatched project macro renders as `name(args)`; no relation exists.

That keeps expression macros parseable SQL; the few macros that render something other than an
expression (a type, a whole select) get a fixed placeholder below.
"""

from __future__ import annotations

from collections.abc import Callable

_NON_EXPRESSION_MACROS: dict[str, str] = {
    "type_money": "decimal(18, 2)",
    "date_series": "select cast({0} as date) as date_day",
}


def dispatch(macro_name: str, macro_namespace: str | None = None) -> Callable[..., str]:
    def _render(*args: object, **kwargs: object) -> str:
        if macro_name in _NON_EXPRESSION_MACROS:
            return _NON_EXPRESSION_MACROS[macro_name].format(*args)
        return f"{macro_name}({', '.join(str(a) for a in args)})"

    return _render


def get_relation(database: str, schema: str, identifier: str) -> None:
    """No warehouse while linting: no relation exists (int_batch_visitors' first build)."""
    return None
