"""Stand-ins for dbt's jinja context when sqlfluff lints the models with its jinja templater.

sqlfluff's `apply_dbt_builtins` supplies ref/source/var/config; here `dbt.<macro>(...)` and
`adapter.dispatch(<macro>)(...)` fill the macro's template below, else render as a call of the
same name, so the macros render to parseable SQL without a warehouse. Only sqlfluff imports this.
"""

from collections.abc import Callable
from types import SimpleNamespace

TEMPLATES = {  # DuckDB SQL close to what dbt-duckdb renders
    "type_bigint": "bigint",
    "type_int": "integer",
    "type_string": "varchar",
    "type_timestamp": "timestamp",
    "type_money": "decimal(18, 2)",
    "dateadd": "({2} + cast({1} as bigint) * interval 1 {0})",
    "datediff": "date_diff('{2}', {0}, {1})",
    "date_trunc": "date_trunc('{0}', {1})",
    "date_series": "select cast({0} as date) as date_day",
}


def render(name: str) -> Callable[..., str]:
    def _call(*args: object, **kwargs: object) -> str:
        if name in TEMPLATES:
            return TEMPLATES[name].format(*args)
        return f"{name}({', '.join(str(a) for a in args)})"

    return _call


class Macros:
    """`dbt.<macro>`: any name renders."""

    def concat(self, fields: list[str]) -> str:
        return " || ".join(str(f) for f in fields)

    def __getattr__(self, name: str) -> Callable[..., str]:
        if name.startswith("__"):
            raise AttributeError(name)
        return render(name)


dbt = Macros()
adapter = SimpleNamespace(  # no relation exists while linting (int_batch_visitors' first build)
    dispatch=lambda macro_name, macro_namespace=None: render(macro_name),
    get_relation=lambda database, schema, identifier: None,
)
flags = SimpleNamespace(FULL_REFRESH=False)  # dbt's run flags: macro has_batch reads FULL_REFRESH
target = SimpleNamespace(type="duckdb", schema="main", name="duckdb")  # the DuckDB target
