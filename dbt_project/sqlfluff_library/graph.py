"""`graph` stand-in: dbt's parsed project graph. Empty here: the macros that look models up in it
(replace_where_predicate, previous_build_relation, batch_test_node) then find none, and the
placeholders stay as they are."""

from __future__ import annotations

nodes: dict[str, object] = {}
sources: dict[str, object] = {}
