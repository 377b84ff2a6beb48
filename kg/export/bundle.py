"""Bundles: runs and the file contents they need in one archive, to share without a hub.

`kg export 3 -F bundle -o trial3.kgb` writes a zip: ``manifest.json`` (what is inside and
the sha256 of every content), ``records.jsonl`` (the runs' records as `kg push` sends them
to a hub: give it ``run_records(expand=False)``, so compact activities are not written out a
second time, exploded) and
``contents/<sha256>`` for each kept content. `kg load trial3.kgb` checks everything first
(names, sizes, every content's hash, every record), then stores the contents, then the
records, so a refused or interrupted load never leaves runs whose files cannot be restored.
Loaded runs are marked as pulled: `kg restore` writes their files below the current
directory only."""
from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterable
from typing import IO, Any

from kg import content
from kg._version import __version__
from kg.exceptions import InputError
from kg.export import register_exporter
from kg.model.records import Edge, Node
from kg.model.terms import TOP_LEVEL_KINDS

__all__ = ["write_bundle", "read_bundle", "BUNDLE_FORMAT"]

BUNDLE_FORMAT = "provkg-bundle"
_VERSION = 1
_CONTENT_RE = re.compile(r"^contents/([0-9a-f]{64})$")
_MAX_RECORDS_BYTES = 4 * 1024**3  # a records file larger than this is not a bundle kg wrote


def write_bundle(nodes: Iterable[Node], edges: Iterable[Edge], out: IO[bytes], **_: Any) -> int:
    """Write the records and the contents they name as a zip to ``out``; the number of records."""
    from kg.hub_client import content_hashes
    from kg.stores.jsonl import encode_records

    nodes, edges = list(nodes), list(edges)
    shas = content_hashes(nodes)
    kept = [s for s in shas if content.has(s)]
    records = encode_records(nodes, edges)
    sizes: dict[str, int] = {}
    manifest = {"format": BUNDLE_FORMAT, "version": _VERSION, "provkg": __version__,
                "runs": sorted(n.id for n in nodes if n.kind in TOP_LEVEL_KINDS and not n.props.get("parent")),
                "records": len(nodes) + len(edges), "contents": sizes, "not_kept": sorted(set(shas) - set(kept))}
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("records.jsonl", records)
        for sha in kept:
            data = content.get(sha)
            sizes[sha] = len(data)
            zf.writestr(f"contents/{sha}", data)
        # Last, so a reader knows the archive was finished (and what each entry must be).
        zf.writestr("manifest.json", json.dumps(manifest, indent=1, sort_keys=True))
    return len(nodes) + len(edges)


def read_bundle(path: str, source: str | None = None) -> tuple[list[Node], list[Edge]]:
    """Check the bundle at ``path`` whole, store its contents, and return its records (marked as
    pulled from it) for the caller to write. InputError names the first thing wrong."""
    from kg.hub_client import content_hashes, pulled_mark
    from kg.stores.jsonl import parse_records

    where = source or path
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise InputError(f"{where}: not a provkg bundle ({exc})") from None
    with zf:
        manifest = _manifest(zf, where)
        limit = content.size_limit()
        found: dict[str, bytes] = {}
        for info in zf.infolist():
            if info.filename in ("manifest.json", "records.jsonl"):
                continue
            m = _CONTENT_RE.match(info.filename)
            if not m:
                raise InputError(f"{where}: unexpected entry {info.filename!r:.100} (a bundle holds manifest.json, "
                                 "records.jsonl and contents/<sha256>)")
            sha = m.group(1)
            if manifest["contents"].get(sha) != info.file_size or (limit and info.file_size > limit):
                raise InputError(f"{where}: content {sha[:12]} is not the size the manifest gives")
            data = zf.read(info)
            if content.hash_bytes(data) != sha:
                raise InputError(f"{where}: content {sha[:12]} is corrupt (its sha256 differs)")
            found[sha] = data
        lacking = sorted(set(manifest["contents"]) - set(found))
        if lacking:
            raise InputError(f"{where}: the manifest lists content {lacking[0][:12]} but the bundle lacks it")
        info = zf.getinfo("records.jsonl")
        if info.file_size > _MAX_RECORDS_BYTES:
            raise InputError(f"{where}: records.jsonl is {info.file_size:,} bytes, more than a bundle holds")
        nodes, edges = parse_records(zf.read(info).splitlines(), where)
    unlisted = set(content_hashes(nodes)) - set(found) - set(manifest.get("not_kept") or [])
    if unlisted:
        raise InputError(f"{where}: the records name content {sorted(unlisted)[0][:12]} that the bundle neither "
                         "holds nor lists as not kept")
    for data in found.values():  # contents first: a load cut short leaves no run without its files
        content.put_bytes(data)
    return [pulled_mark(n, f"bundle:{where}") for n in nodes], edges


def _manifest(zf: zipfile.ZipFile, where: str) -> dict[str, Any]:
    try:
        manifest = json.loads(zf.read("manifest.json"))
        zf.getinfo("records.jsonl")
    except KeyError as exc:
        raise InputError(f"{where}: not a provkg bundle (no {exc.args[0].split()[-1]})") from None
    except ValueError as exc:
        raise InputError(f"{where}: its manifest.json is not JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise InputError(f"{where}: not a provkg bundle (manifest format is not {BUNDLE_FORMAT!r})")
    if manifest.get("version") != _VERSION:
        raise InputError(f"{where}: bundle version {manifest.get('version')!r}; this provkg reads version {_VERSION}")
    if not isinstance(manifest.get("contents"), dict):
        raise InputError(f"{where}: its manifest has no contents table")
    return manifest


register_exporter("bundle", write_bundle, binary=True)
