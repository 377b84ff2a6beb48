"""The collaboration hub, end to end with real processes: a `kg serve` hub, and collaborators
with their own KG_HOME pushing and pulling through it with `kg push` / `kg pull`."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.web._serve import kg_serve
from tests.web.test_serve import Browser, b, chrome  # noqa: F401 (fixtures: one chromium for the hub pages)

pytest.importorskip("flask")
requests = pytest.importorskip("requests")

# Reads a file, writes text and binary files, one in a subdirectory.
SCRIPT = """
import os
data = open("in.txt").read()
os.makedirs("sub", exist_ok=True)
with open("sub/upper.txt", "w") as f:
    f.write(data.upper())
with open("out.bin", "wb") as f:
    f.write(bytes(range(256)) * 40 + os.environ.get("SALT", "").encode())
"""


@dataclass
class Hub:
    url: str
    store: Path
    env: dict[str, str]
    tokens: dict[str, str]

    def exp(self, name: str) -> str:
        return f"{self.url}experiments/{name}"


def _env(home: Path, token: str | None = None) -> dict[str, str]:
    env = {**os.environ, "KG_HOME": str(home), "PYTHONPATH": str(ROOT)}
    env.pop("KG_STORE", None)
    env.pop("KG_TOKEN", None)
    if token:
        env["KG_TOKEN"] = token
    return env


def kg(env: dict[str, str], cwd: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([sys.executable, "-m", "kg", *args], cwd=cwd, env=env, capture_output=True, text=True,
                         timeout=300)
    if ok:
        assert out.returncode == 0, f"kg {' '.join(args)} failed:\n{out.stderr}"
    return out


def _error_line(out: subprocess.CompletedProcess[str]) -> str:
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kg: error: "), out.stderr
    return lines[0]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    base = tmp_path_factory.mktemp("hub")
    env = _env(base / ".kg")
    store = base / "hub.db"
    tokens = {u: kg(env, base, "serve", "--store", str(store), "--add-user", u).stdout.strip()
              for u in ("alice", "bob")}
    admin = base / "admin.token"
    admin.write_text("the-team-token-from-a-file\n")
    with kg_serve(["--store", str(store), "--max-body", str(4 * 1024 * 1024), "--token-file", str(admin)],
                  base, env) as url:
        yield Hub(url, store, env, {**tokens, "admin": "the-team-token-from-a-file"})


def _collaborator(root: Path, name: str, token: str | None) -> tuple[dict[str, str], Path]:
    work = root / name
    work.mkdir()
    return _env(root / f"{name}-home", token), work


def _captured(tmp_path: Path, token: str, salt: str = "") -> tuple[dict[str, str], Path]:
    env, work = _collaborator(tmp_path, "alice", token)
    (work / "in.txt").write_text("hello hub\n")
    (work / "s.py").write_text(SCRIPT)
    kg({**env, "SALT": salt}, work, "run", "s.py")
    return env, work


def _counts(line: str) -> tuple[int, int]:
    m = re.search(r"(\d+) runs \(\d+ records\) and (\d+) contents", line)
    assert m, line
    return int(m.group(1)), int(m.group(2))


FILES = ("in.txt", "s.py", "sub/upper.txt", "out.bin")


def test_pull_then_restore_brings_every_file_back_byte_identical(hub: Hub, tmp_path: Path) -> None:
    a_env, a_work = _captured(tmp_path, hub.tokens["alice"])
    url = hub.exp("paper")
    first = kg(a_env, a_work, "push", "--to", url).stderr
    assert _counts(first) == (1, 4), first  # the script, its input and its two outputs
    # The hub keeps the experiment as PROV: a collection that had the run as member, owned by alice.
    info = requests.get(url, headers={"Authorization": f"Bearer {hub.tokens['alice']}"}, timeout=30).json()
    assert info["owner"] == "alice" and len(info["runs"]) == 1

    b_env, b_work = _collaborator(tmp_path, "bob-as-alice", hub.tokens["alice"])
    pulled = kg(b_env, b_work, "pull", "--from", url).stderr
    assert _counts(pulled) == (1, 4), pulled
    # The same graph on both sides: a compact activity's PROV is not stored a second time, exploded.
    assert kg(b_env, b_work, "info").stdout.split()[-2:] == kg(a_env, a_work, "info").stdout.split()[-2:]
    kg(b_env, b_work, "restore", "1")
    for rel in FILES:
        assert (b_work / rel).read_bytes() == (a_work / rel).read_bytes(), rel

    # Again: nothing travels either way.
    assert _counts(kg(a_env, a_work, "push", "--to", url).stderr) == (0, 0)
    assert _counts(kg(b_env, b_work, "pull", "--from", url).stderr) == (0, 0)

    # A second trial: only its new content (out.bin changed; the rest is on the hub) travels.
    kg({**a_env, "SALT": "2"}, a_work, "run", "s.py")
    assert _counts(kg(a_env, a_work, "push", "--to", url).stderr) == (1, 1)
    assert _counts(kg(b_env, b_work, "pull", "--from", url).stderr) == (1, 1)


def test_without_a_valid_token_nothing_is_written_or_read(hub: Hub, tmp_path: Path) -> None:
    a_env, a_work = _captured(tmp_path, "")
    for env in (a_env, {**a_env, "KG_TOKEN": "not-a-token"}):
        line = _error_line(kg(env, a_work, "push", "--to", hub.exp("anon"), ok=False))
        assert "valid token" in line
        line = _error_line(kg(env, a_work, "pull", "--from", hub.exp("anon"), ok=False))
        assert "valid token" in line
    resp = requests.get(hub.exp("anon"), headers={"Authorization": f"Bearer {hub.tokens['alice']}"}, timeout=30)
    assert resp.status_code == 404  # the refused push created nothing
    resp = requests.put(f"{hub.url}hub/content/{'0' * 64}", data=b"x", timeout=30)
    assert resp.status_code == 401


def test_a_user_reads_and_writes_only_experiments_they_own_or_were_granted(hub: Hub, tmp_path: Path) -> None:
    a_env, a_work = _captured(tmp_path, hub.tokens["alice"], salt="private")
    url = hub.exp("alice-private")
    kg(a_env, a_work, "push", "--to", url)
    bob_env, bob_work = _collaborator(tmp_path, "bob", hub.tokens["bob"])
    assert "may not read" in _error_line(kg(bob_env, bob_work, "pull", "--from", url, ok=False))
    # Bob pushing alice's run (here from alice's store, with his token): to her experiment, or
    # into one of his own that would overwrite it, is refused.
    as_bob = {**a_env, "KG_TOKEN": hub.tokens["bob"]}
    assert "may not" in _error_line(kg(as_bob, a_work, "push", "--to", url, ok=False))
    assert "may not write" in _error_line(kg(as_bob, a_work, "push", "--to", hub.exp("bobs"), ok=False))
    listed = requests.get(f"{hub.url}experiments", headers={"Authorization": f"Bearer {hub.tokens['bob']}"},
                          timeout=30).json()
    assert "alice-private" not in {e["name"] for e in listed}

    # The --token-file token reads every experiment.
    admin_env, admin_work = _collaborator(tmp_path, "admin", hub.tokens["admin"])
    assert _counts(kg(admin_env, admin_work, "pull", "--from", url).stderr) == (1, 4)

    kg(hub.env, hub.store.parent, "serve", "--store", str(hub.store), "--grant", "bob", "alice-private")
    assert _counts(kg(bob_env, bob_work, "pull", "--from", url).stderr) == (1, 4)
    kg(bob_env, bob_work, "restore", "1")
    assert (bob_work / "out.bin").read_bytes() == (a_work / "out.bin").read_bytes()
    # Bob's own trial on alice's files shares their versions; it goes into his own experiment.
    kg(bob_env, bob_work, "run", "s.py")
    assert _counts(kg(bob_env, bob_work, "push", "2", "--to", hub.exp("bobs-own")).stderr)[0] == 1


def _crafted(hub: Hub, tmp_path: Path, name: str, replace: str) -> tuple[dict[str, str], Path]:
    """A trial whose out.bin access claims the path ``replace``, pushed by alice to ``name`` and
    pulled by a fresh collaborator (its own run id, so the genuine trial is left alone)."""
    a_env, a_work = _captured(tmp_path, hub.tokens["alice"], salt=name)
    kg(a_env, a_work, "push", "--to", hub.exp(name + "-src"))
    auth = {"Authorization": f"Bearer {hub.tokens['alice']}"}
    body = requests.get(hub.exp(name + "-src") + "/runs.jsonl", headers=auth, timeout=30).text
    run_id = json.loads(kg(a_env, a_work, "list", "--format", "json").stdout)[0]["id"]
    body = body.replace(run_id, run_id[:-6] + "ffffff").replace(json.dumps(str(a_work / "out.bin")),
                                                                json.dumps(replace))
    resp = requests.post(hub.exp(name) + "/runs", data=body.encode(), headers=auth, timeout=30)
    assert resp.status_code == 201, resp.text
    c_env, c_work = _collaborator(tmp_path, "carol", hub.tokens["alice"])
    kg(c_env, c_work, "pull", "--from", hub.exp(name))
    return c_env, c_work


@pytest.mark.parametrize("path", ["../x", "/tmp/kg-hub-escape-x"])
def test_restore_refuses_a_pulled_path_outside_the_restore_directory(hub: Hub, tmp_path: Path, path: str) -> None:
    name = "escape-rel" if path.startswith("..") else "escape-abs"
    c_env, c_work = _crafted(hub, tmp_path, name, path)
    line = _error_line(kg(c_env, c_work, "restore", "1", ok=False))
    assert "refusing to restore" in line and path in line
    assert not (tmp_path / "x").exists() and not os.path.exists("/tmp/kg-hub-escape-x")
    assert list(c_work.iterdir()) == []  # refused before anything was written


def test_restore_refuses_a_symlink_on_the_way(hub: Hub, tmp_path: Path) -> None:
    a_env, a_work = _captured(tmp_path, hub.tokens["alice"], salt="link")
    kg(a_env, a_work, "push", "--to", hub.exp("links"))
    c_env, c_work = _collaborator(tmp_path, "carol", hub.tokens["alice"])
    kg(c_env, c_work, "pull", "--from", hub.exp("links"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (c_work / "sub").symlink_to(elsewhere)
    line = _error_line(kg(c_env, c_work, "restore", "1", ok=False))
    assert "symbolic link" in line
    assert list(elsewhere.iterdir()) == []
    # --into names another directory: there it is restored whole.
    kg(c_env, c_work, "restore", "1", "--into", str(tmp_path / "copy"))
    assert (tmp_path / "copy" / "sub" / "upper.txt").read_text() == "HELLO HUB\n"


def test_the_body_limit_refuses_a_larger_content(hub: Hub) -> None:
    data = b"x" * (4 * 1024 * 1024 + 1)
    import hashlib

    resp = requests.put(f"{hub.url}hub/content/{hashlib.sha256(data).hexdigest()}", data=data,
                        headers={"Authorization": f"Bearer {hub.tokens['alice']}"}, timeout=60)
    assert resp.status_code == 413


def _auth(hub: Hub, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {hub.tokens[user]}"}


def test_a_collaborators_annotation_travels_back_and_is_prov(hub: Hub, tmp_path: Path) -> None:
    a_env, a_work = _captured(tmp_path, hub.tokens["alice"], salt="notes")
    url = hub.exp("notes")
    kg(a_env, a_work, "push", "--to", url)
    kg(hub.env, hub.store.parent, "serve", "--store", str(hub.store), "--grant", "bob", "notes")
    b_env, b_work = _collaborator(tmp_path, "bob", hub.tokens["bob"])
    kg(b_env, b_work, "pull", "--from", url)
    note_id = kg({**b_env, "KG_USER": "bob@laptop"}, b_work, "annotate", "1", "out.bin looks <b>wrong</b>").stdout.strip()
    assert note_id.startswith("annotation:")
    # Only the annotated run travels again, and no content.
    assert _counts(kg(b_env, b_work, "push", "--to", url).stderr) == (1, 0)
    assert _counts(kg(a_env, a_work, "pull", "--from", url).stderr) == (1, 0)
    notes = json.loads(kg(a_env, a_work, "annotations", "1", "-F", "json").stdout)
    assert [(n["id"], n["author"], n["pushed_by"], n["text"]) for n in notes] == \
        [(note_id, "bob@laptop", "bob", "out.bin looks <b>wrong</b>")]
    assert "bob@laptop: out.bin looks <b>wrong</b>" in kg(a_env, a_work, "show", "1").stdout
    # PROV in the graph: an entity attributed to its author, influenced by the trial.
    doc = json.loads(kg(a_env, a_work, "export", "1", "-F", "provjson").stdout)
    run_id = json.loads(kg(a_env, a_work, "list", "-F", "json").stdout)[0]["id"]
    assert any(r["prov:influencee"] == f"id:{note_id}" and r["prov:influencer"] == f"id:{run_id}"
               for r in doc["wasInfluencedBy"].values())
    assert any(r["prov:entity"] == f"id:{note_id}" and r["prov:agent"] == "id:agent:person:bob@laptop"
               for r in doc["wasAttributedTo"].values())
    # Nothing changed since: nothing travels either way.
    assert _counts(kg(a_env, a_work, "push", "--to", url).stderr) == (0, 0)
    assert _counts(kg(b_env, b_work, "pull", "--from", url).stderr) == (0, 0)

    # A note on the experiment itself is written by the hub, in the token's user's name.
    kg(b_env, b_work, "annotate", url, "rerun with seed 2")
    assert f"the experiment has 1 notes of its own: kg annotations {url}" in kg(a_env, a_work, "pull", "--from",
                                                                                url).stderr
    listed = json.loads(kg(a_env, a_work, "annotations", url, "-F", "json").stdout)
    assert [(n["author"], n["text"]) for n in listed] == [("bob", "rerun with seed 2")]


def test_read_only_grants_and_groups(hub: Hub, tmp_path: Path) -> None:
    a_env, a_work = _captured(tmp_path, hub.tokens["alice"], salt="groups")
    url = hub.exp("lab-results")
    kg(a_env, a_work, "push", "--to", url)
    serve = ("serve", "--store", str(hub.store))
    token = kg(hub.env, hub.store.parent, *serve, "--add-user", "carol").stdout.strip()
    kg(hub.env, hub.store.parent, *serve, "--group", "lab", "carol")
    kg(hub.env, hub.store.parent, *serve, "--grant", "@lab", "lab-results", "--read-only")
    c_env, c_work = _collaborator(tmp_path, "carol", token)
    assert _counts(kg(c_env, c_work, "pull", "--from", url).stderr) == (1, 4)
    kg(c_env, c_work, "annotate", "1", "read-only readers keep their notes at home")
    assert "may not write" in _error_line(kg(c_env, c_work, "push", "--to", url, ok=False))
    assert "may not write" in _error_line(kg(c_env, c_work, "annotate", url, "no", ok=False))
    # A write grant to the user adds to the group's read grant.
    kg(hub.env, hub.store.parent, *serve, "--grant", "carol", "lab-results")
    assert _counts(kg(c_env, c_work, "push", "--to", url).stderr) == (1, 0)
    listed = kg(hub.env, hub.store.parent, *serve, "--users").stdout
    assert re.search(r"user\s+carol\s+lab-results \(write\)", listed), listed
    assert re.search(r"group\s+@lab\s+lab-results \(read\)\s+carol", listed), listed
    assert token not in listed
    # Revoked, carol reads through her group again but may not write; removed, her token is void.
    kg(hub.env, hub.store.parent, *serve, "--revoke", "carol", "lab-results")
    kg(c_env, c_work, "annotate", "1", "a second note")
    assert "may not write" in _error_line(kg(c_env, c_work, "push", "--to", url, ok=False))
    kg(hub.env, hub.store.parent, *serve, "--remove-user", "carol")
    assert "valid token" in _error_line(kg(c_env, c_work, "pull", "--from", url, ok=False))
    assert "no hub user 'carol'" in _error_line(kg(hub.env, hub.store.parent, *serve, "--remove-user", "carol",
                                                   ok=False))


def test_content_is_read_only_through_a_readable_experiment_that_names_it(hub: Hub, tmp_path: Path) -> None:
    a_env, a_work = _captured(tmp_path, hub.tokens["alice"], salt="secret content")
    kg(a_env, a_work, "push", "--to", hub.exp("sealed"))
    import hashlib

    sha = hashlib.sha256((a_work / "out.bin").read_bytes()).hexdigest()
    get = f"{hub.url}hub/content/{sha}"
    assert requests.get(get, headers=_auth(hub, "alice"), params={"experiment": "sealed"}, timeout=30).content == \
        (a_work / "out.bin").read_bytes()
    assert requests.get(get, headers=_auth(hub, "bob"), timeout=30).status_code == 403
    assert requests.get(get, headers=_auth(hub, "bob"), params={"experiment": "sealed"}, timeout=30).status_code == 403
    # Bob's own experiment does not name it: a hash alone opens nothing.
    b_env, b_work = _collaborator(tmp_path, "bob", hub.tokens["bob"])
    (b_work / "in.txt").write_text("bob's\n")
    (b_work / "s.py").write_text(SCRIPT)
    kg(b_env, b_work, "run", "s.py")
    kg(b_env, b_work, "push", "--to", hub.exp("bobs-sealed"))
    assert requests.get(get, headers=_auth(hub, "bob"), params={"experiment": "bobs-sealed"},
                        timeout=30).status_code == 404
    # Nor does asking which contents the hub lacks tell bob that it holds alice's.
    asked = {"hashes": [sha]}
    missing = f"{hub.url}hub/content/missing"
    assert requests.post(missing, json=asked, headers=_auth(hub, "bob"), timeout=30).json() == {"missing": [sha]}
    assert requests.post(missing, json=asked, headers=_auth(hub, "alice"), timeout=30).json() == {"missing": []}


def test_hub_pages_sign_in_and_show_each_user_only_what_they_may_read(hub: Hub, tmp_path: Path, b: Browser) -> None:
    a_env, a_work = _captured(tmp_path, hub.tokens["alice"], salt="pages")
    url = hub.exp("shown")
    kg(a_env, a_work, "push", "--to", url)
    run_id = json.loads(kg(a_env, a_work, "list", "-F", "json").stdout)[0]["id"]
    kg(a_env, a_work, "annotate", "1", "<script>alert(1)</script> is text")
    kg(a_env, a_work, "push", "--to", url)
    kg(a_env, a_work, "annotate", url, "ready for review")
    dave = kg(hub.env, hub.store.parent, "serve", "--store", str(hub.store), "--add-user", "dave").stdout.strip()

    page = b.page()
    page.goto(f"{hub.url}run/{run_id}")
    assert "/login" in page.url and page.locator("h1").inner_text() == "Sign in"
    page.fill("input[name=token]", "not-a-token")
    page.click("button[type=submit]")
    assert page.locator("#login-error").inner_text() == "That token is not valid here."
    b.errors.clear()  # the browser logs the 401 of the refused sign-in: expected
    page.fill("input[name=token]", hub.tokens["alice"])
    page.click("button[type=submit]")
    page.wait_for_selector("#notes")  # back on the run page asked for first
    notes = page.locator("#notes").inner_text()
    assert "<script>alert(1)</script> is text" in notes and "alice" in notes
    assert page.locator("main script").count() == 0
    # A note on one node shows on its run's page (saying which node) and on the node's own page.
    out_bin = json.loads(kg(a_env, a_work, "lineage", run_id, "--down", "-F", "json").stdout)
    version = next(r["id"] for r in out_bin if r["kind"] == "FileVersion" and r["name"].endswith("out.bin"))
    kg(a_env, a_work, "annotate", version, "this file is the figure")
    kg(a_env, a_work, "push", "--to", url)
    page.reload()
    assert f"on {version}" in page.locator("#notes").inner_text()
    page.click(f"#notes >> text={version}")
    assert "this file is the figure" in page.locator("#notes").inner_text()
    # The runs list filters by experiment (a campaign): alice sees hers, not the others' runs.
    page.goto(f"{hub.url}?campaign=shown")
    assert page.locator("#run-count").inner_text().startswith("1 of ")
    assert run_id in page.locator("#runs").inner_text() and "shown" in page.locator("#runs .tag").inner_text()
    page.goto(f"{hub.url}experiments")
    assert "shown" in page.locator("#experiments").inner_text()
    page.click("#experiments >> text=shown")
    assert page.locator("#exp-name").inner_text() == "shown"
    assert run_id in page.locator("#exp-runs").inner_text()
    assert "ready for review" in page.locator("#notes").inner_text()
    b.shot(page, "hub-experiment")
    page.close()

    other = b.browser.new_context()
    page = other.new_page()
    page.goto(f"{hub.url}login")
    page.fill("input[name=token]", dave)
    page.click("button[type=submit]")
    assert page.locator("#run-count").inner_text() == "0 of 0 runs"
    assert page.locator("select[name=campaign]").count() == 0  # no experiment names leak into the filters
    page.goto(f"{hub.url}experiments")
    assert "No experiment you may read." in page.locator("#experiments").inner_text()
    resp = page.goto(f"{hub.url}run/{run_id}")
    assert resp is not None and resp.status == 403 and "may not read" in page.locator("main").inner_text()
    resp = page.goto(f"{hub.url}workflows")
    assert resp is not None and resp.status == 403
    other.close()


@pytest.mark.parametrize("target", ["//evil.example/x", "/\\evil.example/x", "https://evil.example/", "/run/1"])
def test_sign_in_only_returns_to_a_page_of_this_server(hub: Hub, target: str) -> None:
    resp = requests.post(f"{hub.url}login", data={"token": hub.tokens["alice"], "next": target},
                         allow_redirects=False, timeout=30)
    assert resp.status_code == 302
    assert resp.headers["Location"] == (target if target == "/run/1" else "/")
    assert "HttpOnly" in resp.headers["Set-Cookie"] and "SameSite=Strict" in resp.headers["Set-Cookie"]


def test_behind_a_tls_proxy_the_sign_in_cookie_is_https_only(hub: Hub, tmp_path: Path) -> None:
    with kg_serve(["--store", str(hub.store), "--behind-proxy"], tmp_path, hub.env) as url:
        resp = requests.post(f"{url}login", data={"token": hub.tokens["alice"], "next": "/"},
                             headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "hub.example.org"},
                             allow_redirects=False, timeout=30)
    assert resp.status_code == 302 and "; Secure" in resp.headers["Set-Cookie"]
    plain = requests.post(f"{hub.url}login", data={"token": hub.tokens["alice"]}, allow_redirects=False, timeout=30)
    assert "Secure" not in plain.headers["Set-Cookie"]  # without --behind-proxy: plain HTTP on 127.0.0.1
