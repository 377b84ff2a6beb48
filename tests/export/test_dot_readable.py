"""`kg export -F dot` of a real `kg run` trial draws a picture a person can read, says what it
left out, and `-O all=true` still gives every record."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.conftest import run_kg


def test_a_kg_run_trial_draws_readably(tmp_path: Path, graphviz_dot: str) -> None:
    env = {"KG_HOME": str(tmp_path / ".kg")}
    assert run_kg("demo", "1", "-d", str(tmp_path / "demo1"), cwd=tmp_path, env=env).returncode == 0
    ran = run_kg("run", "simulation.py", "data1.dat", "data2.dat", cwd=tmp_path / "demo1", env=env)
    assert ran.returncode == 0, ran.stderr
    text = run_kg("export", "1", "-F", "dot", cwd=tmp_path, env=env).stdout
    svg = subprocess.run([graphviz_dot, "-Tsvg"], input=text, capture_output=True, text=True, timeout=120)
    assert svg.returncode == 0, svg.stderr
    width, height = (float(x) for x in re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', svg.stdout).groups())
    assert width < 3000 and height < 3000, (width, height)  # was 383,405 pt wide
    for name in ("data1.dat", "data2.dat", "output.dat", "output.svg", "simulation.py"):
        assert f">{name}</text>" in svg.stdout, name  # the files and the script are drawn
    assert "load_table" in svg.stdout  # and the calls that read them
    caption = re.search(r'label="(\d+ of \d+ nodes: [^"]*)"', text).group(1)
    assert "kg export -F dot -O all=true" in caption and "left out" in caption
    everything = run_kg("export", "1", "-F", "dot", "-O", "all=true", cwd=tmp_path, env=env).stdout
    assert everything.count("Activation") > 1000 and "nodes:" not in everything
