"""`graph` stand-in: dbt's parsed project graph. Empty here: the macros that look models up in it
(replace_where_predicate, batch_test_condition) then leave their placeholders as they are."""

from __future__ import annotations

nodes: dict[str, object] = {}
sources: dict[str, object] = {}
