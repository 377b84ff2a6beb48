"""nb.Trial over the shared Neo4j: Cypher rows for a trial pushed there, and its drawing."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_kg

pytestmark = pytest.mark.neo4j


def test_a_pushed_trial_answers_cypher_and_draws_from_neo4j(neo4j_uri: str, tmp_path: Path) -> None:
    import kg.notebook as nb

    (tmp_path / "s.py").write_text("open('out.txt', 'w').write('x')\n")
    env = {"KG_HOME": str(tmp_path / ".kg"), "KG_STORE": ""}
    assert run_kg("run", "s.py", cwd=tmp_path, env=env).returncode == 0
    local = str(tmp_path / ".kg" / "kg.db")
    rid = nb.Trial(store=local).id
    with pytest.raises(Exception, match="Cypher needs a Neo4j store"):
        nb.Trial(rid, store=local).cypher("RETURN 1 AS one")
    assert run_kg("push", rid, "--to", neo4j_uri, cwd=tmp_path, env=env).returncode == 0

    trial = nb.Trial(rid, store=neo4j_uri)
    rows = trial.cypher("MATCH (t:Trial {id: $run})<-[:WAS_INFORMED_BY*1..3]-(a:Activation) "
                        "RETURN DISTINCT a.name AS name ORDER BY name")
    assert "__main__" in [r["name"] for r in rows]
    files = trial.cypher("MATCH (v:FileVersion)-[:WAS_GENERATED_BY]->(:KG {run: $run}) RETURN v.path AS path")
    assert any(str(r["path"]).endswith("out.txt") for r in files)
    assert "out.txt" in trial._repr_svg_()
