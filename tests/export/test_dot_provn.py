"""dot (rendered by graphviz, PROV shapes and colours, options) and PROV-N (through prov)."""
from __future__ import annotations

import re
import subprocess
import warnings
from typing import Any

import pytest
from conftest import export_text
from export_demo import HOSTILE, TRIAL

from kg.exceptions import ExportError


def _render(dot: str, text: str) -> str:
    r = subprocess.run([dot, "-Tsvg"], input=text, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and not r.stderr, r.stderr
    return r.stdout


def _nodes(text: str) -> dict[str, str]:
    """dot node name -> its attribute list."""
    return dict(re.findall(r"^\s+(n\d+) \[(.*)\];$", text, re.M))


def test_dot_renders_with_prov_shapes_and_colours(graphviz_dot: str, demo_store: Any) -> None:
    text = export_text("dot", demo_store, values="true")
    svg = _render(graphviz_dot, text)
    nodes = _nodes(text)
    shapes = {a.split(",")[0] for a in nodes.values()}
    assert shapes == {"shape=ellipse", "shape=box", "shape=house"}
    for attrs in nodes.values():
        if "shape=ellipse" in attrs:
            assert 'fillcolor="#FFFC87"' in attrs  # entities yellow
        elif "shape=box" in attrs:
            assert 'fillcolor="#9FB1FC"' in attrs  # activities blue
        else:
            assert 'fillcolor="#FED37F"' in attrs  # agents orange
    assert 'fill="#fffc87"' in svg.lower() and 'fill="#9fb1fc"' in svg.lower() and 'fill="#fed37f"' in svg.lower()
    # The hostile name is escaped (the render above would fail otherwise) and readable.
    assert "halt." in svg


def _labels(text: str) -> list[str]:
    return re.findall(r'label="([^"\\]*(?:\\.[^"\\]*)*)"', text)


def test_values_option(graphviz_dot: str, demo_store: Any) -> None:
    without = export_text("dot", demo_store, [TRIAL])
    with_values = export_text("dot", demo_store, [TRIAL], values="true")
    _render(graphviz_dot, with_values)
    assert not any("Value" in lab for lab in _labels(without))
    assert 'label="path = data.csv\\nValue"' in with_values
    # Without values, the flow from load's return into transform is one dashed edge.
    assert "style=dashed" in without and "style=dashed" not in with_values


def test_depth_option_folds_nested_activations(graphviz_dot: str, demo_store: Any) -> None:
    full = export_text("dot", demo_store, [TRIAL])
    shallow = export_text("dot", demo_store, [TRIAL], depth="1")
    _render(graphviz_dot, shallow)
    assert "load\\nActivation" in full and "load\\nActivation" not in shallow
    assert "main\\nActivation" in shallow
    # load's read of data.csv is now drawn from main, its ancestor at depth 1.
    top = export_text("dot", demo_store, [TRIAL], depth="0")
    assert "main\\nActivation" not in top and "analysis.py\\nTrial" in top


def test_kinds_option(demo_store: Any) -> None:
    text = export_text("dot", demo_store, [TRIAL], kinds="File,FileVersion")
    kinds = {lab.rsplit("\\n", 1)[-1] for lab in _labels(text) if "\\n" in lab}
    assert kinds == {"File", "FileVersion"}


def test_collapse_option(graphviz_dot: str) -> None:
    import io

    from kg.export.dot import write_dot
    from kg.model import Kind, ProvClass, node

    nodes = [node("r", ProvClass.ACTIVITY, Kind.TRIAL, name="r")]
    nodes += [node(f"c{i}", ProvClass.ACTIVITY, Kind.ACTIVATION, name="step", parent="r") for i in range(5)]
    nodes += [node(f"d{i}", ProvClass.ACTIVITY, Kind.ACTIVATION, name="inner", parent=f"c{i}") for i in range(5)]
    buf = io.StringIO()
    write_dot(nodes, [], buf, collapse="true")
    assert "step ×5" in buf.getvalue() and "inner ×5" in buf.getvalue()
    assert len(_nodes(buf.getvalue())) == 3
    _render(graphviz_dot, buf.getvalue())


def test_too_big_for_a_picture() -> None:
    import io

    from kg.export.dot import write_dot
    from kg.model import Kind, ProvClass, node

    nodes = [node(f"e{i}", ProvClass.ENTITY, Kind.FILE) for i in range(30)]
    with pytest.raises(ExportError, match="max_nodes"):
        write_dot(nodes, [], io.StringIO(), max_nodes="10")


def test_provn_reads_back_equal(demo_store: Any) -> None:
    import prov
    from prov.model import ProvDocument

    text = export_text("provn", demo_store, [TRIAL])
    assert text.startswith("document") and "endDocument" in text
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        back = prov.read(text, format="provn")
        doc = ProvDocument.deserialize(content=export_text("provjson", demo_store, [TRIAL]), format="json")
    assert back == doc


def test_provn_with_hostile_strings_parses() -> None:
    """prov writes and reads back every record; an id with spaces or quotes comes back
    percent-encoded (a prov PROV-N limitation), values come back exact."""
    import io

    import prov

    from kg.export.provn import write_provn
    from kg.model import Kind, ProvClass, Relation, edge, node

    nodes = [node(f"v:{HOSTILE}", ProvClass.ENTITY, Kind.VALUE, name=HOSTILE),
             node("a", ProvClass.ACTIVITY, Kind.TASK, name=HOSTILE)]
    buf = io.StringIO()
    write_provn(nodes, [edge(Relation.USED, "a", f"v:{HOSTILE}", role=HOSTILE)], buf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        back = prov.read(buf.getvalue(), format="provn")
    assert len(back.get_records()) == 3
    names = {str(v) for r in back.get_records() for k, v in r.attributes if str(k) == "kg:name"}
    assert names == {HOSTILE}
