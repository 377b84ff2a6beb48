"""File-access hooks installed in-process: what they record, and that the program sees no difference."""
from __future__ import annotations

import builtins
import gc
import io
import os
import pathlib
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import capture.files as cf
from kg import content
from kg.exceptions import CaptureError
from kg.model.records import Node
from kg.stores.base import Store

TRIAL = "trial-hooks"


@pytest.fixture
def hooks(strict_sink: Any) -> Iterator[cf.FileCapture]:
    h = cf.install(TRIAL)
    try:
        yield h
    finally:
        h.uninstall()
        strict_sink.flush()  # before the store fixture closes


def _accesses(store: Store, sink: Any) -> list[Node]:
    sink.flush()
    return sorted(store.find_nodes(kind="FileAccess", run=TRIAL), key=lambda n: n.props["n"])


def _rels(store: Store) -> set[tuple[str, str, str, str]]:
    return {(e.rel, e.src, e.dst, str(e.props.get("role", ""))) for e in store.find_edges(run=TRIAL)}


def test_open_write_then_read_records_versions_and_prov(hooks: cf.FileCapture, store: Store,
                                                        strict_sink: Any, tmp_path: Path) -> None:
    with open("out.txt", "w") as f:
        f.write("one")
    with open("out.txt", "a") as f:
        f.write(" two")
    assert open("out.txt").read() == "one two"
    hooks.uninstall()
    acc = _accesses(store, strict_sink)
    assert [(a.props["op"], a.props["mode"]) for a in acc] == [("open", "w"), ("open", "a"), ("open", "r")]
    one, two = content.hash_bytes(b"one"), content.hash_bytes(b"one two")
    assert [(a.props.get("before"), a.props.get("after")) for a in acc] == [(None, one), (one, two), (two, two)]
    path = str(tmp_path / "out.txt")
    v1, v2 = cf.version_id(one, path), cf.version_id(two, path)
    rels = _rels(store)
    assert ("WAS_GENERATED_BY", v1, TRIAL, "w") in rels
    assert ("USED", TRIAL, v1, "a") in rels            # append depends on what was there
    assert ("WAS_GENERATED_BY", v2, TRIAL, "a") in rels
    assert ("WAS_DERIVED_FROM", v2, v1, "") in rels
    assert ("USED", TRIAL, v2, "r") in rels
    assert ("SPECIALIZATION_OF", v2, cf.file_id(path), "") in rels
    assert content.get(one) == b"one" and content.get(two) == b"one two"  # contents kept for restore
    assert store.get_node(v2).props["size"] == 7


def test_os_shutil_pathlib_operations(hooks: cf.FileCapture, store: Store, strict_sink: Any,
                                      tmp_path: Path) -> None:
    Path("a.txt").write_text("A")
    assert Path("a.txt").read_bytes() == b"A"
    shutil.copy("a.txt", "b.txt")
    os.rename("b.txt", "c.txt")
    os.mkdir("d")
    assert shutil.copy2("c.txt", "d") == os.path.join("d", "c.txt")
    shutil.move("a.txt", "d/a2.txt")
    Path("d/a2.txt").replace("e.txt")
    Path("t").touch()
    os.remove("c.txt")
    Path("e.txt").unlink()
    shutil.rmtree("d")
    hooks.uninstall()
    ops = [(a.props["op"], os.path.relpath(a.props["path"], tmp_path)) for a in _accesses(store, strict_sink)]
    assert ops == [("write_text", "a.txt"), ("read_bytes", "a.txt"), ("copy", "b.txt"), ("rename", "c.txt"),
                   ("mkdir", "d"), ("copy", "d/c.txt"), ("move", "d/a2.txt"), ("replace", "e.txt"),
                   ("touch", "t"), ("delete", "c.txt"), ("delete", "e.txt"), ("rmtree", "d/c.txt")]
    sha = content.hash_bytes(b"A")
    src, dst = cf.version_id(sha, str(tmp_path / "b.txt")), cf.version_id(sha, str(tmp_path / "c.txt"))
    rels = _rels(store)
    assert ("WAS_DERIVED_FROM", dst, src, "") in rels          # the renamed content came from b.txt
    assert ("WAS_INVALIDATED_BY", src, TRIAL, "rename") in rels  # ... which no longer holds it
    assert ("WAS_INVALIDATED_BY", dst, TRIAL, "delete") in rels
    assert ("WAS_GENERATED_BY", cf.file_id(str(tmp_path / "d")), TRIAL, "mkdir") in rels


def test_behaviour_unchanged(hooks: cf.FileCapture, tmp_path: Path) -> None:
    # Same types, same exceptions (type, errno, filename), same return values.
    assert type(open(__file__)) is io.TextIOWrapper
    assert type(open(__file__, "rb")) is io.BufferedReader
    assert type(open(__file__, "rb", buffering=0)) is io.FileIO
    for call in (lambda: open("missing.txt"), lambda: os.remove("missing.txt"),
                 lambda: shutil.copy("missing.txt", "x"), lambda: Path("missing.txt").read_text(),
                 lambda: os.rename("missing.txt", "y"), lambda: shutil.rmtree("missing-dir")):
        with pytest.raises(FileNotFoundError) as info:
            call()
        assert info.value.errno == 2 and "missing" in str(info.value.filename)
    with pytest.raises(IsADirectoryError):
        open(str(tmp_path), "w")
    with pytest.raises(ValueError):
        open("x.txt", "rw")
    with pytest.raises(TypeError):
        open()  # type: ignore[call-arg]
    assert Path("w.txt").write_text("héllo", encoding="utf-8") == 5
    assert open("w.txt", encoding="utf-8").read() == "héllo"
    assert open(os.open("w.txt", os.O_RDONLY), closefd=True).read() == "héllo"  # fds pass through

    class Holder:  # the builtin does not bind as a method; neither may its replacement
        opener = open
    assert Holder().opener("w.txt", encoding="utf-8").read() == "héllo"
    assert open.__name__ == "open" and "file" in (open.__doc__ or "")
    assert builtins.open is io.open


def test_threads_each_write_recorded(hooks: cf.FileCapture, store: Store, strict_sink: Any) -> None:
    def work(i: int) -> None:
        for j in range(5):
            with open(f"t{i}-{j}.txt", "w") as f:
                f.write(str(i * j))
            with open(f"t{i}-{j}.txt") as f:
                assert f.read() == str(i * j)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    hooks.uninstall()
    acc = _accesses(store, strict_sink)
    assert len(acc) == 80
    assert sorted(a.props["n"] for a in acc) == list(range(1, 81))
    writes = {os.path.basename(a.props["path"]): a.props["after"] for a in acc if a.props["mode"] == "w"}
    assert writes["t7-4.txt"] == content.hash_bytes(b"28")


def test_skips_store_and_our_own_io_and_attributes_to_activation(strict_sink: Any, store: Store,
                                                                 tmp_path: Path) -> None:
    h = cf.install(TRIAL, activation=lambda: "a-test.1")
    try:
        home = Path(os.environ["KG_HOME"])
        home.mkdir(parents=True, exist_ok=True)
        (home / "inside.txt").write_text("x")     # under KG_HOME: not recorded
        content.put_bytes(b"stored by provkg")      # our own writes: not recorded
        with pytest.raises(CaptureError):
            cf.install("another")                   # one capture at a time
        open("user.txt", "w").close()
    finally:
        h.uninstall()
    acc = _accesses(store, strict_sink)
    assert [os.path.basename(a.props["path"]) for a in acc] == ["user.txt"]
    assert acc[0].props["parent"] == "a-test.1"
    assert ("WAS_GENERATED_BY", cf.version_id(content.hash_bytes(b""), str(tmp_path / "user.txt")), "a-test.1",
            "w") in _rels(store)


def test_uninstall_puts_every_original_back(strict_sink: Any) -> None:
    names = [(builtins, "open"), (io, "open"), *((os, n) for n in ("rename", "replace", "remove", "unlink", "mkdir")),
             *((shutil, n) for n in ("copyfile", "copy", "copy2", "move", "rmtree"))]
    before = [getattr(o, n) for o, n in names]
    path_before = dict(vars(pathlib.Path))
    h = cf.install(TRIAL)
    assert isinstance(builtins.open, cf._OpenHook) and hasattr(pathlib.Path.write_text, "__wrapped__")
    h.uninstall()
    h.uninstall()  # twice is harmless
    assert [getattr(o, n) for o, n in names] == before
    assert dict(vars(pathlib.Path)) == path_before
    assert cf.active() is None


def test_open_file_is_hashed_when_closed_or_at_uninstall(hooks: cf.FileCapture, store: Store,
                                                         strict_sink: Any) -> None:
    f = open("left-open.txt", "w")
    f.write("partial")
    f.flush()
    g = open("closed.txt", "w")
    g.write("done")
    g.close()
    del g
    gc.collect()
    assert hooks.stats["pending"] == 2  # closed file: settled at the next hook call
    open("other.txt", "w").close()
    assert hooks.stats["pending"] <= 2
    hooks.uninstall()
    f.write(" more")
    f.close()
    after = {os.path.basename(a.props["path"]): a.props.get("after") for a in _accesses(store, strict_sink)}
    assert after["closed.txt"] == content.hash_bytes(b"done")
    assert after["left-open.txt"] == content.hash_bytes(b"partial")  # as it was on disk at uninstall


def test_big_file_above_limit_is_hashed_not_kept(strict_sink: Any, store: Store) -> None:
    h = cf.install(TRIAL, limit=1000)
    try:
        Path("big.bin").write_bytes(b"z" * 5000)
    finally:
        h.uninstall()
    (a,) = _accesses(store, strict_sink)
    sha = content.hash_bytes(b"z" * 5000)
    assert a.props["after"] == sha and not content.has(sha)
    v = store.get_node(cf.version_id(sha, os.path.abspath("big.bin")))
    assert v is not None and v.props["stored"] is False and v.props["size"] == 5000
