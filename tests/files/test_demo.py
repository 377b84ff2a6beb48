"""kg demo: the shipped demo project runs, and is captured, restored and diffed like any trial."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import run_kg

DRIVER = Path(__file__).with_name("trial_driver.py")


def test_demo_extracts_a_runnable_project(tmp_path: Path) -> None:
    r = run_kg("demo", "1")
    assert r.returncode == 0, r.stderr
    demo = tmp_path / "demo1"
    assert {p.name for p in demo.iterdir()} >= {"simulation.py", "simulator.py", "plot.py", "data1.dat",
                                                "data2.dat", "README.md"}
    plain = subprocess.run([sys.executable, "simulation.py", "data1.dat", "data2.dat"], cwd=demo,
                           capture_output=True, text=True, timeout=60)
    assert plain.returncode == 0 and plain.stdout.startswith("simulated 400 steps")
    expected = (demo / "output.dat").read_bytes()
    (demo / "output.dat").unlink()
    captured = subprocess.run([sys.executable, str(DRIVER), "simulation.py", "data1.dat", "data2.dat"], cwd=demo,
                              capture_output=True, text=True, timeout=60)
    assert captured.stdout == plain.stdout and (demo / "output.dat").read_bytes() == expected
    (demo / "output.dat").write_text("lost\n")
    (demo / "simulator.py").write_text("broken\n")
    assert run_kg("restore", "1", cwd=demo).returncode == 0
    assert (demo / "output.dat").read_bytes() == expected
    assert "def simulate" in (demo / "simulator.py").read_text()  # local module restored too
    again = run_kg("demo", "1")
    assert again.returncode == 1 and "not empty" in again.stderr
    assert run_kg("demo", "1", "--force").returncode == 0
    assert run_kg("demo", "7").returncode == 1


def test_kg_run_records_files_per_activation_and_restores(tmp_path: Path) -> None:
    assert run_kg("demo", "1").returncode == 0
    demo = tmp_path / "demo1"
    first = run_kg("run", "simulation.py", "data1.dat", "data2.dat", cwd=demo)
    assert first.returncode == 0, first.stderr
    out1 = (demo / "output.dat").read_bytes()
    svg1 = (demo / "output.svg").read_bytes()
    shown = run_kg("show", "1", "-f", cwd=demo).stdout
    assert "file accesses (4):" in shown
    assert "simulator.load_table" in shown and "save" in shown  # attributed to the calls that did it
    (demo / "data1.dat").write_text((demo / "data1.dat").read_text().replace("alpha 1.1", "alpha 1.3"))
    assert run_kg("run", "simulation.py", "data1.dat", "data2.dat", cwd=demo).returncode == 0
    assert (demo / "output.dat").read_bytes() != out1
    diff = run_kg("diff", "1", "2", "-f", "--brief", cwd=demo).stdout
    assert diff.endswith("files: 3 changed\n  M data1.dat\n  M output.dat\n  M output.svg\n")
    (demo / "output.svg").unlink()
    assert run_kg("restore", "1", cwd=demo).returncode == 0
    assert (demo / "output.dat").read_bytes() == out1 and (demo / "output.svg").read_bytes() == svg1
    assert "alpha 1.1" in (demo / "data1.dat").read_text()
    assert run_kg("run", "simulation.py", "data1.dat", "data2.dat", cwd=demo).returncode == 0
    assert "(based on 1, restored)" in run_kg("history", cwd=demo).stdout.splitlines()[0]
