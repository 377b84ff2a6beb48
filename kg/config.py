"""Where the store lives and how capture behaves: environment, config file, defaults."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kg.exceptions import ConfigError

__all__ = ["Settings", "settings", "kg_home", "store_uri", "load_config"]

SECRET_MARKERS = ("PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "TOKEN", "KEY", "CREDENTIAL", "AUTH", "COOKIE",
                  "SESSION", "PRIVATE", "SIGNATURE", "CERT", "DSN", "WEBHOOK")

# Whole words of a name (split at "_") that mark a credential but are too short to match inside words:
# DB_PASS, SMTP_PW, MSSQL_PWD.
_SECRET_WORDS = frozenset({"PASS", "PW", "PWD", "PAT"})


def kg_home() -> Path:
    """``$KG_HOME`` or ``./.kg``: the store, the content store and spools live here."""
    return Path(os.environ.get("KG_HOME") or Path.cwd() / ".kg")


def load_config(home: Path | None = None) -> dict[str, Any]:
    """The ``[kg]`` table of ``$KG_HOME/config.toml`` (empty when there is no file)."""
    path = (home or kg_home()) / "config.toml"
    if not path.exists():
        return {}
    if sys.version_info >= (3, 11):  # imported only when there is a file: kg run's start-up counts
        import tomllib
    else:  # pragma: no cover - 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    table = data.get("kg", data)
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [kg] must be a table")
    return table


def store_uri(explicit: str | None = None) -> str:
    """The store to use: ``--store``, else ``$KG_STORE``, else config ``store``, else ``$KG_HOME/kg.db``."""
    uri = explicit or os.environ.get("KG_STORE") or load_config().get("store")
    return str(uri) if uri else str(kg_home() / "kg.db")


def _env_bool(name: str, default: bool) -> bool:
    val = os.environ.get(name)
    if val is None:
        return default
    return val.strip().lower() not in ("0", "false", "no", "off", "")


def _env_int(name: str, default: int) -> int:
    val = os.environ.get(name)
    if not val:
        return default
    try:
        return int(val)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, not {val!r}") from None


def _env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    val = (os.environ.get(name) or default).strip().lower()
    if val not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, not {val!r}")
    return val


@dataclass
class Settings:
    """Capture settings. Read once from the environment; tests and users may change them in code."""

    enabled: bool = field(default_factory=lambda: _env_bool("KG_CAPTURE", True))
    strict: bool = field(default_factory=lambda: _env_bool("KG_STRICT", False))
    repr_limit: int = field(default_factory=lambda: _env_int("KG_REPR_LIMIT", 120))
    # A class whose own __repr__ averages more than this many µs over its first values is recorded
    # by its default repr from then on (capture.values: a user repr can cost more than the program's
    # call it describes). 0: always call the class's repr.
    repr_budget_us: int = field(default_factory=lambda: _env_int("KG_REPR_BUDGET", 5))
    buffer_cap: int = field(default_factory=lambda: _env_int("KG_BUFFER_CAP", 100_000))
    batch_size: int = field(default_factory=lambda: _env_int("KG_BATCH_SIZE", 10_000))
    flush_interval: float = 0.5
    # The C hot paths (tracers, lightweight tasks and loops) where they were built; KG_C=0: the Python forms.
    native: bool = field(default_factory=lambda: _env_bool("KG_C", True))
    # Sessions a Neo4j write uses at once (kg.stores.neo4j): 2 measured best with server and client on 2 cores.
    neo4j_writers: int = field(default_factory=lambda: max(1, _env_int("KG_NEO4J_WRITERS", 2)))
    # Which Value entities of tasks and activations Neo4j holds as nodes (docs/neo4j-store.md):
    # "linked" those that link two activities (the others are props of their activity), "all" every one.
    neo4j_values: str = field(default_factory=lambda: _env_choice("KG_NEO4J_VALUES", "linked", ("linked", "all")))
    secret_markers: tuple[str, ...] = SECRET_MARKERS
    # Secrets replaced on the way to the store (kg.redact); KG_REDACT=0 keeps values as captured.
    redact: bool = field(default_factory=lambda: _env_bool("KG_REDACT", True))

    def is_secret(self, name: str) -> bool:
        """True for environment variable names that look like credentials."""
        upper = name.upper()
        return any(m in upper for m in self.secret_markers) or not _SECRET_WORDS.isdisjoint(upper.split("_"))


settings = Settings()
