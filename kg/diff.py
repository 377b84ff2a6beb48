"""Comparing two trials: attributes, module dependencies, environment and files.

Each section lists exactly what differs, keyed by name (modules, environment
variables) or path (files): ``added`` (only in the second trial), ``removed`` (only
in the first) or ``changed`` (in both, different). Unchanged entries are not reported."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from kg._trialdata import accesses, code_sha, file_states, related
from kg.model.records import Node
from kg.stores.base import Store

__all__ = ["Change", "TrialDiff", "diff_trials", "describe", "TRIAL_ATTRIBUTES"]

# Trial attributes compared by `kg diff` (those a trial may have; absent on both = not shown).
TRIAL_ATTRIBUTES = ("name", "command", "argv", "script", "code_hash", "status", "python", "user", "host", "cwd",
                    "duration", "error_type", "error")


@dataclass(frozen=True)
class Change:
    """One difference: its key, the value in each trial (None when absent) and the kind of change."""

    key: str
    old: Any
    new: Any
    status: str  # added | removed | changed

    @property
    def mark(self) -> str:
        return {"added": "+", "removed": "-", "changed": "M"}[self.status]


@dataclass
class TrialDiff:
    """The differences between trial ``a`` and trial ``b``, section by section."""

    a: Node
    b: Node
    attributes: list[Change] = field(default_factory=list)
    modules: list[Change] = field(default_factory=list)
    environment: list[Change] = field(default_factory=list)
    files: list[Change] = field(default_factory=list)

    def sections(self) -> dict[str, list[Change]]:
        return {"attributes": self.attributes, "modules": self.modules, "environment": self.environment,
                "files": self.files}


def _compare(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    out = []
    for key in sorted(old.keys() | new.keys()):
        if key not in new:
            out.append(Change(key, old[key], None, "removed"))
        elif key not in old:
            out.append(Change(key, None, new[key], "added"))
        elif old[key] != new[key]:
            out.append(Change(key, old[key], new[key], "changed"))
    return out


def _attributes(t: Node) -> dict[str, Any]:
    return {k: t.props[k] for k in TRIAL_ATTRIBUTES if t.props.get(k) not in (None, "", [], {})}


def _modules(store: Store, t: Node) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for n in related(store, t, "Module"):
        name = str(n.props.get("name") or n.id)
        out[name] = {k: v for k, v in (("version", n.props.get("version")), ("path", n.props.get("path")),
                                       ("sha256", code_sha(n))) if v is not None}
    return out


def _environment(store: Store, t: Node) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for n in related(store, t, "Environment"):
        name = n.props.get("name")
        if name is not None:
            out[str(name)] = n.props.get("value")
    return out


def _files(store: Store, t: Node) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for path, st in file_states(accesses(store, t)).items():
        out[path] = {"first": st.first, "last": st.last, "wrote": st.wrote, "deleted": st.deleted}
    return out


def diff_trials(store: Store, a: Node, b: Node, *, modules: bool = True, environment: bool = True,
                files: bool = True) -> TrialDiff:
    """What changed from trial ``a`` to trial ``b``.

    Files: a path differs when the content the trial first saw or the content it left
    differs, or when one trial wrote or deleted it and the other did not."""
    d = TrialDiff(a, b, _compare(_attributes(a), _attributes(b)))
    if modules:
        d.modules = _compare(_modules(store, a), _modules(store, b))
    if environment:
        d.environment = _compare(_environment(store, a), _environment(store, b))
    if files:
        d.files = _compare(_files(store, a), _files(store, b))
    return d


def describe(section: str, key: str, v: Any) -> str:
    """How one side of a change reads (`kg diff` and the web view): a file as what the trial read
    and wrote (short content hashes), a module as version and hash, a duration for people,
    anything else as text (JSON for lists and objects)."""
    if section == "files" and isinstance(v, dict):
        parts = []
        if v.get("first"):
            parts.append(f"read {str(v['first'])[:10]}")
        if v.get("deleted"):
            parts.append("deleted")
        elif v.get("wrote") or not v.get("first"):
            parts.append(f"wrote {str(v.get('last') or '-')[:10]}")
        return ", ".join(parts)
    if section == "modules" and isinstance(v, dict):
        return " ".join(str(x) for x in (v.get("version"), str(v.get("sha256") or "")[:10]) if x)
    if section == "attributes" and key == "duration":
        from kg.humanize import fmt_duration

        return fmt_duration(v)
    return str(v) if not isinstance(v, (dict, list)) else json.dumps(v, default=str)
