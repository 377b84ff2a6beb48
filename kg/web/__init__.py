"""`kg serve`: a read-only web view of the knowledge graph (runs, trials, history, diff, lineage,
workflows). Needs Flask (``pip install provkg[web]``)."""
from __future__ import annotations

from kg.web.app import create_app

__all__ = ["create_app"]
