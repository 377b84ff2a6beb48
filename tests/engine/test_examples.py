"""The seed's examples, with only their imports changed, print exactly what the seed shows."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "engine"

# Copied from the seed document (its "prints" blocks), not from our output.
EXPECTED = {
    "basic.py": "1\n2\n2\n3\n",
    "loops_and_interrupts.py": """\
new data: [0]
new data: [0, 1]
Restarting the engine
new data: [0, 1, 0]
new data: [0, 1, 0, 1]
new data: [0, 1, 0, 1, 1]
Raising HaltProcessing
new data: [0, 1, 0]
new data: [0, 1, 0, 1]
new data: [0, 1, 0, 1, 1]
Raising HaltProcessing
new data: [0, 1, 0, 1, 0]
new data: [0, 1, 0, 1, 0, 1]
new data: [0, 1, 0, 1, 0, 1, 1]
Raising HaltProcessing
Done! [[0, 1, 0, 1, 1], [0, 1, 0, 1, 1], [0, 1, 0, 1, 0, 1, 1]]
""",
    "grades.py": """\
Testing grade #1, with data 6
Testing grade #2, with data 5
Testing grade #3, with data 4
The student has failed this test!

What Zak sees: [6, 5, 4, 5, 2, 6]
Note how the engine resumes from the last failing test:
Testing grade #3, with data 4
Amending this grade..
Testing grade #4, with data 5
Testing grade #5, with data 2
Amending this grade..
Testing grade #6, with data 6

What the professor sees: [6, 5, 5, 5, 5, 6]
""",
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_seed_example_prints_the_seed_output(name: str) -> None:
    script = EXAMPLES / name
    if not script.exists():
        pytest.fail(f"{script} is missing")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env,
                          cwd=EXAMPLES, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == EXPECTED[name]


def test_examples_differ_from_the_seed_only_in_imports() -> None:
    for name in EXPECTED:
        text = (EXAMPLES / name).read_text()
        assert "import workflow" not in text and "from workflow" not in text
