"""Secrets stay out: a run with many kinds of secrets leaves none in the store, the content
store or any export, and says where each one was ([redacted])."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kg.redact import REDACTED, Redactor, argv_secrets

PROGRAM = '''
import os, sys, capture

def get(name):
    return os.environ.get(name)

def connect(url, env=None):
    return len(url)

def echo(x):
    return x

@capture.task
def upload(token, n=1):
    return "sent with " + token

@capture.lightweight_task
def sign(key):
    return key[::-1][::-1]

connect(get("DATABASE_URL"), os.environ)          # URL credentials; os.environ passed by value
connect(get("REDIS_URL"))                         # a password with no user
env_copy = dict(os.environ)                       # a mapping of the environment
echo(len(env_copy))
echo(get("GITHUB_TOKEN"))                         # a token returned by a function
echo(get("SLACK_WEBHOOK_URL"))                    # a webhook URL
echo("Server=db;User Id=sa;Password=" + get("MSSQL_PASS") + ";")  # a connection string
echo(sys.argv[2])                                 # --password VALUE
echo(sys.argv[3].split("=", 1)[1])                # --api-key=VALUE
echo(sys.argv[5])                                 # a URL with ?token=
with capture.Run(name="tasks"):
    upload(get("OPENAI_API_KEY"))                 # a decorated task's input and output
    sign(get("STRIPE_SECRET"))                    # a lightweight task
for item in capture.Loop([get("AWS_SECRET_ACCESS_KEY")], name="loop"):  # a loop value
    echo(item)
echo(capture.secret("".join(reversed(os.environ["REVERSED"]))))  # marked secret in code
echo(get("ACME_CUSTOM"))                          # named secret by KG_REDACT_NAMES
echo("order " + get("ORDER_REF"))                 # matched by KG_REDACT_PATTERNS
print("ok")
'''

SECRETS = {
    "DATABASE_URL": ("postgres://app:Sup3rS3cretPw@db.example/prod", "Sup3rS3cretPw"),
    "REDIS_URL": ("redis://:RedisPw98765@localhost:6379/0", "RedisPw98765"),
    "GITHUB_TOKEN": ("ghp_" + "a1B2" * 9, "a1B2a1B2a1B2"),
    "SLACK_WEBHOOK_URL": ("https://hooks.slack.com/services/T0001/B0001/WebhookSecret123", "WebhookSecret123"),
    "MSSQL_PASS": ("MsSqlPw12345", "MsSqlPw12345"),
    "OPENAI_API_KEY": ("sk-proj-openaiSecretValue0001", "openaiSecretValue0001"),
    "STRIPE_SECRET": ("rk_live_StripeSecret777", "StripeSecret777"),
    "AWS_SECRET_ACCESS_KEY": ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
    "REVERSED": ("reversed-321terceS", "Secret123-desrever"),
    "ACME_CUSTOM": ("custom-NotByItsName-55", "NotByItsName"),
    "ORDER_REF": ("ORD-9f8e7d6c5b4a", "9f8e7d6c5b4a"),
}
ARGV_SECRETS = ["CliPassw0rd123", "CliApiKey98765", "QueryTok12345"]
ALL = [needle for _, needle in SECRETS.values()] + ARGV_SECRETS


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kg", *cmd], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    d = tmp_path_factory.mktemp("secrets")
    (d / "prog.py").write_text(PROGRAM)
    env = dict(os.environ, KG_HOME=str(d / ".kg"), KG_REDACT_NAMES="ACME_*", KG_REDACT_PATTERNS=r"ORD-[0-9a-f]{12}")
    env.pop("KG_STORE", None)
    env.update({k: v for k, (v, _) in SECRETS.items()})
    out = _run(["run", "prog.py", "--password", ARGV_SECRETS[0], f"--api-key={ARGV_SECRETS[1]}", "--url",
                f"https://api.example/v1?user=me&token={ARGV_SECRETS[2]}&page=2"], d, env)
    assert out.returncode == 0, out.stderr
    assert "ok" in out.stdout  # the program ran unchanged
    return d, env


def _leaks(data: bytes) -> list[str]:
    return [s for s in ALL if s.encode() in data]


def test_no_secret_reaches_the_store_or_the_content_store(captured: tuple[Path, dict[str, str]]) -> None:
    d, _ = captured
    files = [p for p in (d / ".kg").rglob("*") if p.is_file()]
    assert any(p.name == "kg.db" for p in files) and any("content" in p.parts for p in files)
    leaks = {str(p.relative_to(d)): _leaks(p.read_bytes()) for p in files}
    assert not any(leaks.values()), leaks
    db = (d / ".kg" / "kg.db").read_bytes()
    assert b"environ({" not in db  # os.environ (and views of it) never recorded by value


@pytest.mark.parametrize("fmt", ["provjson", "provn", "rdf", "nt", "prolog", "dot"])
def test_no_secret_in_any_export(captured: tuple[Path, dict[str, str]], fmt: str) -> None:
    d, env = captured
    out = _run(["export", "--all", "-F", fmt], d, env)
    assert out.returncode == 0, out.stderr
    assert len(out.stdout) > 1000
    assert _leaks(out.stdout.encode()) == []


def test_show_says_where_each_secret_was(captured: tuple[Path, dict[str, str]]) -> None:
    d, env = captured
    out = _run(["show", "1", "-a"], d, env)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert _leaks(text.encode()) == []
    assert "postgres://app:[redacted]@db.example/prod" in text  # the user is kept, the password is not
    assert "https://hooks.slack.com/[redacted]" in text
    assert "Password=[redacted];" in text
    assert "token=[redacted]&page=2" in text
    assert "<os.environ: not recorded>" in text
    assert text.count(REDACTED) >= 10
    tasks = _run(["show", "2", "-a"], d, env).stdout + _run(["list"], d, env).stdout
    assert _leaks(tasks.encode()) == []


def test_non_secret_values_are_kept(captured: tuple[Path, dict[str, str]]) -> None:
    d, env = captured
    text = _run(["show", "1", "-a"], d, env).stdout
    assert "Parameters: name = 'DATABASE_URL'" in text  # names of variables are not secrets
    assert "ENV:HOME" in _run(["export", "1", "-F", "provjson"], d, env).stdout


def test_patterns() -> None:
    r = Redactor()
    assert r.text("mysql://root:pw123456@h:3306/db") == "mysql://root:[redacted]@h:3306/db"
    assert r.text("git+ssh://git@github.com/x/y") == "git+ssh://git@github.com/x/y"
    assert r.text("host=h password=abcdef12 dbname=d") == "host=h password=[redacted] dbname=d"
    assert r.text("Bearer eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0.SflKxwRJSMeKKF2QT4f") == "Bearer [redacted]"
    assert r.text("key AKIAIOSFODNN7EXAMPLE") == "key [redacted]"
    assert r.text("https://discord.com/api/webhooks/123/abcdef") == "https://discord.com/api/webhooks/[redacted]"
    assert r.text("an ordinary sentence, task-1234 and disk-5") == "an ordinary sentence, task-1234 and disk-5"
    r.add("Literal-Secret-42")
    assert r.text("x=Literal-Secret-42!") == "x=[redacted]!"
    assert r.text("short") == "short"


def test_argv_secrets() -> None:
    argv = ["in.csv", "--token", "T1", "--db-password=P2", "-v", "--password", "--next", "--api_key", "K3",
            "--keyboard", "qwerty"]
    assert argv_secrets(argv) == ["T1", "P2", "K3"]


def test_a_bad_redact_pattern_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "p.py").write_text("print('x')\n")
    env = dict(os.environ, KG_HOME=str(tmp_path / ".kg"), KG_REDACT_PATTERNS="([unclosed")
    out = _run(["run", "p.py"], tmp_path, env)
    assert out.returncode != 0
    assert out.stderr.strip().splitlines()[-1].startswith("kg: error: redact_patterns:")
    assert not (tmp_path / ".kg" / "kg.db").exists()


def test_the_offline_file_is_redacted_too(tmp_path: Path) -> None:
    """Redaction is on the way to any store: the JSONL file of an offline capture holds no secret."""
    (tmp_path / "p.py").write_text(PROGRAM)
    env = dict(os.environ, KG_STORE=str(tmp_path / "run.jsonl"), KG_HOME=str(tmp_path / ".kg"))
    env.update({k: v for k, (v, _) in SECRETS.items()})
    out = subprocess.run([sys.executable, "p.py", "--password", ARGV_SECRETS[0], f"--api-key={ARGV_SECRETS[1]}",
                          "--url", f"https://api.example/v1?token={ARGV_SECRETS[2]}"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    data = (tmp_path / "run.jsonl").read_bytes()
    assert b"[redacted]" in data and b'"kind":"Task"' in data
    leaks = [s for s in ["openaiSecretValue0001", "StripeSecret777", "wJalrXUtnFEMI", ARGV_SECRETS[0]]
             if s.encode() in data]
    assert leaks == []
