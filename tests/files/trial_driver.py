"""Run a script as a hand-made trial with only the file hooks installed (test support).

    python trial_driver.py script.py args...
    python trial_driver.py -m module args...

Writes a Trial node (based on the trial marked ``base_of_next`` by `kg restore`, else the
previous trial), the script and its local modules as Script entities kept in the content
store, installs ``capture.files`` for the run, and exits with the script's exit code.
`kg run` does all this and more; these tests only need the file half."""
from __future__ import annotations

import os
import runpy
import sys
import time

import capture.files
from kg import content
from kg.ids import new_run_id
from kg.model import Kind, ProvClass, node
from kg.sink import get_sink
from kg.stores import open_store


def _base() -> str | None:
    with open_store() as store:
        trials = [r for r in store.runs() if r.kind == "Trial"]
        marked = [t for t in trials if t.props.get("base_of_next")]
        if marked:
            store.write([node(marked[0].id, ProvClass.ACTIVITY, Kind.TRIAL, base_of_next=False)])
            return marked[0].id
        return trials[-1].id if trials else None


def main() -> int:
    module = None
    if sys.argv[1] == "-m":
        module, args = sys.argv[2], sys.argv[3:]
        import importlib.util

        spec = importlib.util.find_spec(module)
        script = (spec.origin if spec and spec.origin else module)
        if spec and spec.submodule_search_locations:  # a package: its __main__
            script = os.path.join(os.path.dirname(script), "__main__.py")
    else:
        script, args = sys.argv[1], sys.argv[2:]
    script_abs = os.path.abspath(script)
    trial = new_run_id()
    parent = _base()
    sink = get_sink()
    t0 = time.time()
    sink.put(node(trial, ProvClass.ACTIVITY, Kind.TRIAL, run=trial, name=os.path.basename(script),
                  command=" ".join(["run", script, *args]), script=script_abs, status="unfinished", started=t0,
                  parent_trial=parent, code_hash=content.put_file(script_abs)))
    sink.flush()
    before = set(sys.modules)
    handle = capture.files.install(trial)
    sys.argv = [script, *args]
    sys.path[0] = os.getcwd() if module else os.path.dirname(script_abs)
    code = 0
    status = "finished"
    try:
        if module:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
        else:
            runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        status = "failed"
        code = 1
        import traceback

        traceback.print_exc()
    finally:
        handle.uninstall()
    home = os.path.dirname(script_abs) + os.sep
    recs = [node(f"script:{trial}:main", ProvClass.ENTITY, Kind.SCRIPT, run=trial, path=script_abs, main=True,
                 sha256=content.put_file(script_abs), name=os.path.basename(script_abs))]
    for name in sorted(set(sys.modules) - before):
        path = getattr(sys.modules[name], "__file__", None) or ""
        if path.startswith(home) and path.endswith(".py"):
            recs.append(node(f"script:{trial}:{name}", ProvClass.ENTITY, Kind.SCRIPT, run=trial, path=path,
                             sha256=content.put_file(path), name=name))
    t1 = time.time()
    for r in recs:
        sink.put(r)
    sink.put(node(trial, ProvClass.ACTIVITY, Kind.TRIAL, status=status, ended=t1, duration=t1 - t0))
    sink.close()
    return code


if __name__ == "__main__":
    sys.exit(main())
