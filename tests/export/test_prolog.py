"""Prolog: SWI-Prolog loads facts and rules without a warning, lineage goals give the right
files, every string survives quoting, and `kg prolog` answers through pyswip."""
from __future__ import annotations

import io
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import export_text
from export_demo import FILE_INFLUENCE, HOSTILE, LINEAGE_FILES_OF_REPORT, REPORT_V, TRIAL

from kg.export.prolog import (KIND_PREDICATES, PREDICATES, RELATION_PREDICATES, quote_atom, quote_string,
                              rules_path, term, write_prolog)
from kg.model import Kind, ProvClass, Relation, edge, node
from tests.conftest import ROOT, run_kg

HOSTILE_TEXTS = [
    "", "plain", "it's", "'", "''", "\\", "ends with \\", '"double"', "line\nbreak", "cr\rlf\r\n", "tab\t",
    "ü ß 日本 𝄞 emoji 🙂", "'), halt.", "x'). :- halt. %", "/* comment", "% comment", "0'a", "\x00nul",
    "\x01\x1f\x7f controls", "a\\'b", HOSTILE,
]


def _swipl(swipl: str, *files: Path, goal: str) -> subprocess.CompletedProcess[str]:
    """Run swipl so that any warning or error while loading makes it exit non-zero."""
    loads = ", ".join(f"consult({quote_atom(str(f))})" for f in files)
    return subprocess.run([swipl, "--on-warning=status", "--on-error=status", "-q", "-g", f"{loads}, {goal}",
                           "-t", "halt"], capture_output=True, text=True, timeout=120)


def _codes_goal(pred: str) -> str:
    # Print each value's code points as JSON lists, so Python compares exact text.
    return (f"forall({pred}(I, V), (atom_codes(V, C), format('~w ~w~n', [I, C]))), halt")


@pytest.mark.parametrize("kind", ["atom", "string"])
def test_every_string_reads_back_exactly(swipl: str, tmp_path: Path, kind: str) -> None:
    f = tmp_path / "t.pl"
    quote = quote_atom if kind == "atom" else quote_string
    body = "".join(f"t({i}, {quote(s)}).\n" for i, s in enumerate(HOSTILE_TEXTS))
    f.write_text(":- encoding(utf8).\n" + body + "t(999, \"last\").\n", encoding="utf-8")
    r = _swipl(swipl, f, goal=_codes_goal("t"))
    assert r.returncode == 0, r.stderr
    got = {int(line.split(" ", 1)[0]): json.loads(line.split(" ", 1)[1]) for line in r.stdout.splitlines()}
    for i, s in enumerate(HOSTILE_TEXTS):
        assert got[i] == [ord(c) for c in s], (i, s)
    assert got[999] == [ord(c) for c in "last"]  # nothing ended the file early


def test_terms_for_every_value_type(swipl: str, tmp_path: Path) -> None:
    values = [0, -7, 2**80, 0.25, -1e-300, 1e300, float("inf"), float("-inf"), True, False, None, "s",
              [1, "a"], {"k": HOSTILE}]
    f = tmp_path / "v.pl"
    f.write_text(":- encoding(utf8).\n" + "".join(f"v({i}, {term(v)}).\n" for i, v in enumerate(values)),
                 encoding="utf-8")
    r = _swipl(swipl, f, goal="forall(v(I, V), (print(I-V), nl)), halt")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "0-0" and lines[2] == f"2-{2**80}" and lines[3] == "3-0.25"
    assert lines[6] == "6-inf" or "Inf" in lines[6]
    assert lines[8:11] == ["8-true", "9-false", "10-null"]
    assert lines[13].startswith('13-json("{')
    nan = tmp_path / "nan.pl"
    nan.write_text(f"v({term(float('nan'))}).\n")
    assert _swipl(swipl, nan, goal="v(X), float(X), X =\\= X, halt").returncode == 0


def _facts(store: Any, tmp_path: Path, runs: list[str] | None = None) -> Path:
    f = tmp_path / "facts.pl"
    f.write_text(export_text("prolog", store, runs), encoding="utf-8")
    return f


def test_swipl_loads_demo_facts_and_rules_cleanly(swipl: str, demo_store: Any, tmp_path: Path) -> None:
    facts = _facts(demo_store, tmp_path)
    r = _swipl(swipl, rules_path(), facts, goal="aggregate_all(count, node(_, _, _), N), print(N), halt")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    nodes = sum(1 for line in facts.read_text().splitlines() if line.startswith("node("))
    assert int(r.stdout) == nodes  # the hostile id did not end a clause early


def test_lineage_goal_returns_the_right_files(swipl: str, demo_store: Any, tmp_path: Path) -> None:
    facts = _facts(demo_store, tmp_path, [TRIAL])
    r = _swipl(swipl, rules_path(), facts,
               goal=f"forall(file_lineage({quote_atom(REPORT_V)}, F), (write(F), nl)), halt")
    assert r.returncode == 0, r.stderr
    assert set(r.stdout.split()) == LINEAGE_FILES_OF_REPORT
    r = _swipl(swipl, rules_path(), facts, goal="forall(file_influence(A, B), (write(A-B), nl)), halt")
    assert {tuple(line.split("-", 1)) for line in r.stdout.splitlines()} == FILE_INFLUENCE


def test_rules(swipl: str, demo_store: Any, tmp_path: Path) -> None:
    facts = _facts(demo_store, tmp_path)
    goals = {
        "derivation_chain('fv:out.csv@h4', 'fv:out.csv@h3', C), print(C)": "['fv:out.csv@h4','fv:out.csv@h3']",
        "setof(A, activation_ancestor('act:load', A), L), print(L)": "['act:main','trial-1']",
        "activation_depth('act:load', D), print(D)": "2",
        "findall(F, reads('act:update', F), L), print(L)": "['file:out.csv']",
        "findall(F, writes('act:report', F), L), print(L)": "['file:report.txt']",
        "duration('trial-1', D), print(D)": "10.0",
        "findall(X, influenced('fv:data.csv@h1', X), L), length(L, N), N > 5, print(ok)": "ok",
        "in_run('act:load', R), print(R)": "'trial-1'",
    }
    for goal, expected in goals.items():
        r = _swipl(swipl, rules_path(), facts, goal=f"{goal}, halt")
        assert r.returncode == 0 and r.stdout.strip() == expected, (goal, r.stdout, r.stderr)


def test_every_kind_and_relation_has_a_predicate(swipl: str, demo_store: Any, tmp_path: Path) -> None:
    rules = rules_path().read_text()
    for kind in Kind:
        pred = KIND_PREDICATES[kind.value]
        assert re.search(rf"^{pred}\(X\) :- node\(X, \w+, '{kind.value}'\)\.", rules, re.M), kind
    facts = _facts(demo_store, tmp_path)
    text = facts.read_text()
    for rel in Relation:  # the every-kind run has one edge of each relation
        assert f"\n{RELATION_PREDICATES[rel.value]}(" in text, rel
    for kind in Kind:
        if kind is Kind.TRIAL or kind is Kind.RUN:
            continue
        goal = f"once({KIND_PREDICATES[kind.value]}(_)), halt"
        assert _swipl(swipl, rules_path(), facts, goal=goal).returncode == 0, kind


def test_predicates_are_documented() -> None:
    doc = (ROOT / "docs" / "exports.md").read_text()
    for pred, arity in PREDICATES.items():
        assert f"`{pred}/{arity}`" in doc, pred
    for pred in KIND_PREDICATES.values():
        assert f"`{pred}/1`" in doc, pred
    for name in re.findall(r"^(\w+)\(.*?\) :-", rules_path().read_text(), re.M):
        assert re.search(rf"`{name}/\d`", doc), name


def test_rules_load_alone_without_warnings(swipl: str) -> None:
    r = _swipl(swipl, rules_path(), goal="\\+ lineage(a, _), halt")
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_no_text_can_inject_a_clause(swipl: str, tmp_path: Path) -> None:
    evil = "x'), halt. :- initialization(halt(3)). ('"
    nodes = [node(evil, ProvClass.ENTITY, Kind.VALUE, name=evil, note="\"), halt. %"),
             node("a", ProvClass.ACTIVITY, Kind.TASK, name="a")]
    buf = io.StringIO()
    write_prolog(nodes, [edge(Relation.USED, "a", evil, role=evil)], buf)
    f = tmp_path / "evil.pl"
    f.write_text(buf.getvalue(), encoding="utf-8")
    r = _swipl(swipl, f, goal=f"node({quote_atom(evil)}, entity, 'Value'), used(a, X, null, R), "
                              "atom_string(X, R), halt")
    assert r.returncode == 0, (r.stdout, r.stderr)


def test_kg_prolog_answers_through_pyswip(demo_env: dict[str, str]) -> None:
    pytest.importorskip("pyswip")
    r = run_kg("prolog", f"file_lineage({quote_atom(REPORT_V)}, F)", "1", "--format", "json", env=demo_env)
    assert r.returncode == 0, r.stderr
    assert {row["F"] for row in json.loads(r.stdout)} == LINEAGE_FILES_OF_REPORT
    r = run_kg("prolog", f"node_name(X, {quote_string(HOSTILE)})", env=demo_env, )
    assert r.returncode == 0 and f"value:{HOSTILE}".splitlines()[0] in r.stdout, r.stderr
    r = run_kg("prolog", "is_trial('trial-1')", env=demo_env)
    assert (r.returncode, r.stdout.strip()) == (0, "true")
    r = run_kg("prolog", "is_trial('nope')", env=demo_env)
    assert (r.returncode, r.stdout.strip()) == (0, "false")
    r = run_kg("prolog", "lineage(X", env=demo_env)
    assert r.returncode == 1 and r.stderr.startswith("kg: error: Prolog:") and "Traceback" not in r.stderr


def test_run_prolog_twice_in_one_process(demo_store: Any) -> None:
    pytest.importorskip("pyswip")
    from conftest import records

    from kg.export.swipl import run_prolog

    n, e = records(demo_store, [TRIAL])
    first = run_prolog(n, e, "aggregate_all(count, node(_, _, _), N)")
    n, e = records(demo_store, [TRIAL])
    second = run_prolog(n, e, "aggregate_all(count, node(_, _, _), N)")
    assert first.rows == second.rows  # the second call does not see the first call's facts twice
