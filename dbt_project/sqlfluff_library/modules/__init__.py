"""`modules` stand-in: dbt exposes Python modules to jinja as `modules.<name>`; the project's
macros use `modules.re` (replace_where_predicate)."""

import re

__all__ = ["re"]
