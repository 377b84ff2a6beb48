"""`kg run X` behaves exactly like `python X`: same stdout, stderr and exit code, for scripts written
here and for runnable modules of the standard library."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPTS = {
    "raises.py": """
        def inner(x):
            return 1 / x

        def outer():
            try:
                inner(0)
            except ZeroDivisionError as e:
                raise RuntimeError("wrapped") from e

        print("before")
        outer()
        """,
    "exit3.py": """
        import sys
        print("out")
        print("err", file=sys.stderr)
        def leave():
            sys.exit(3)
        leave()
        """,
    "exit_message.py": """
        import sys
        sys.exit("fatal: a message")
        """,
    "stdin_upper.py": """
        import sys
        data = sys.stdin.read()
        print(len(data), data.upper())
        """,
    "argv_and_main.py": """
        import os, sys
        print(sys.argv, __name__, os.path.basename(__file__), os.path.basename(sys.path[0]))
        print(__spec__, __package__, type(__loader__).__name__)
        """,
    "threads.py": """
        import threading
        results = []
        lock = threading.Lock()
        def work(i):
            with lock:
                results.append(sum(j * i for j in range(1000)))
        ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in ts:
            t.start()
        late = threading.Thread(target=lambda: print("late thread"))
        late.start()
        for t in ts:
            t.join()
        late.join()
        print(sorted(results))
        """,
    "non_daemon_after_main.py": """
        import threading, time
        def slow():
            time.sleep(0.2)
            print("worker finished after main")
        threading.Thread(target=slow).start()
        print("main finished")
        """,
    "syntax_error.py": """
        print("never"
        """,
    "logging_config.py": """
        import logging
        logging.basicConfig(level=logging.INFO, format="%(levelname)s:%(message)s")
        logging.info("configured by the script")
        """,
    "atexit_and_excepthook.py": """
        import atexit, sys
        atexit.register(lambda: print("atexit handler"))
        def hook(tp, value, tb):
            print("custom hook:", tp.__name__, value, file=sys.stderr)
        sys.excepthook = hook
        raise KeyError("k")
        """,
    "generators.py": """
        def gen(n):
            for i in range(n):
                yield i * i
        total = sum(x for x in gen(50))
        print(total, list(gen(3)))
        """,
    "writes_file.py": """
        import json
        with open("out.json", "w") as fh:
            json.dump({"a": [1, 2, 3]}, fh)
        print(open("out.json").read())
        """,
}

CASES = [[name] for name in SCRIPTS] + [
    ["-m", "json.tool", "data.json"],
    ["-m", "json.tool", "--sort-keys", "data.json"],
    ["-m", "calendar", "2024"],
    ["-m", "no_such_module_anywhere"],
    ["missing_script.py"],
    ["-m", "localpkg", "x", "y"],
]


def _python(args: list[str], cwd: Path, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=cwd, input=stdin, capture_output=True, text=True,
                          timeout=120)


def _kg(args: list[str], cwd: Path, stdin: str, env: dict[str, str] | None = None) -> \
        subprocess.CompletedProcess[str]:
    full = dict(os.environ)
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "kg", "run", *args], cwd=cwd, input=stdin, capture_output=True,
                          text=True, timeout=120, env=full)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name, text in SCRIPTS.items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    (tmp_path / "data.json").write_text('{"b": [1, 2], "a": "x"}\n')
    pkg = tmp_path / "localpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "__main__.py").write_text("import sys\nprint('pkg main', __name__, sys.argv[1:])\n"
                                     "def f():\n    raise ValueError('from a package')\nf()\n")
    return tmp_path


def _tracers() -> list[str]:
    from capture.tracer import available

    return available()


@pytest.mark.parametrize("tracer", _tracers())
@pytest.mark.parametrize("args", CASES, ids=lambda a: " ".join(a))
def test_same_output_and_exit_code(project: Path, args: list[str], tracer: str) -> None:
    stdin = "some input\nline two\n"
    plain = _python(args, project, stdin)
    for f in ("out.json",):
        (project / f).unlink(missing_ok=True)
    captured = _kg(args, project, stdin, {"KG_TRACER": tracer})
    assert captured.stdout == plain.stdout
    assert captured.stderr == plain.stderr
    assert captured.returncode == plain.returncode


def test_written_files_identical(project: Path) -> None:
    _python(["writes_file.py"], project, "")
    plain = (project / "out.json").read_bytes()
    (project / "out.json").unlink()
    _kg(["writes_file.py"], project, "")
    assert (project / "out.json").read_bytes() == plain


def test_ctrl_c_dies_of_sigint_like_python(project: Path) -> None:
    (project / "interrupt.py").write_text(textwrap.dedent("""
        import atexit, os, signal, time
        atexit.register(lambda: print("atexit ran", flush=True))
        def loop():
            print("started", flush=True)
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        loop()
        """))
    plain = _python(["interrupt.py"], project, "")
    captured = _kg(["interrupt.py"], project, "")
    assert plain.returncode == -signal.SIGINT
    assert captured.returncode == plain.returncode
    assert captured.stdout == plain.stdout
    assert captured.stderr == plain.stderr
