"""Shared pieces of the runbook benchmarks: throw-away databases and generated runbooks.

Django reads its settings once per process, so each benchmark runs every
database configuration in a child process of its own (``--child <engine>``).

``--baseline REF`` runs the same benchmark against the code of a git revision
too (its ``oncall`` package, this benchmark's queries and data), side by side
with the working tree on the same machine, so the figures compare as ratios
even when the machine is busy.
"""

import io
import json
import os
import random
import statistics
import subprocess
import sys
import tarfile
import tempfile
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
# A PostgreSQL server to create the benchmark database on (it is dropped after).
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")

SERVICES = [
    "payments-api", "ledger", "checkout", "search", "billing", "auth", "gateway", "catalog",
    "inventory", "shipping", "notifications", "reports", "fraud", "pricing", "profile", "media",
]  # fmt: skip
CONDITIONS = [
    "HighErrorRate", "HighLatency", "Down", "CrashLooping", "DiskFillingUp", "MemoryHigh",
    "ReplicationLag", "QueueBacklog", "CertificateExpiring", "TooManyRestarts", "CpuThrottled",
    "ConnectionsSaturated", "ScrapeFailing", "BackupMissing", "JobFailed", "PodNotReady",
    "TargetDown", "SloBurnFast", "SloBurnSlow", "DeployFailed",
]  # fmt: skip
WORDS = [
    "request",
    "latency",
    "error",
    "budget",
    "replica",
    "primary",
    "database",
    "connection",
    "pool",
    "queue",
    "consumer",
    "worker",
    "deploy",
    "rollback",
    "canary",
    "traffic",
    "ingress",
    "node",
    "pod",
    "container",
    "memory",
    "disk",
    "volume",
    "network",
    "timeout",
    "retry",
    "backoff",
    "threshold",
    "dashboard",
    "metric",
    "alert",
    "page",
    "escalate",
    "owner",
    "incident",
    "customer",
    "merchant",
    "payment",
    "refund",
    "ledger",
    "cache",
    "eviction",
    "certificate",
    "upstream",
]
JAPANESE = [
    "証明書の期限切れが迫っています。更新手順を確認してください。",
    "レプリケーション遅延が発生しています。プライマリの負荷を確認します。",
    "ディスク使用量が閾値を超えました。古いログを削除してください。",
    "名前解決に失敗しています。クラスタ DNS の状態を確認します。",
]
SELECTIVE_WORD = "zephyrine"  # appears in 3 runbooks
COMMON_WORD = "service"  # appears in every runbook
PARTIAL_ALERT = "CrashLoop"  # part of 1 alert name in 20


def alert_name(i: int) -> str:
    return f"{SERVICES[i % len(SERVICES)].title().replace('-', '')}{CONDITIONS[i % len(CONDITIONS)]}{i}"


def paragraph(rng: random.Random, words: int = 40) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def runbook_markdown(i: int, rng: random.Random) -> str:
    """A typical runbook: front matter, five sections, commands and a table (~3 KB)."""
    service = SERVICES[i % len(SERVICES)]
    alert = alert_name(i)
    extra = f" The {SELECTIVE_WORD} flag matters here." if i in (7, 4242, 9001) else ""
    japanese = f"\n\n{rng.choice(JAPANESE)}" if i % 10 == 0 else ""
    return f"""---
title: {service} {CONDITIONS[i % len(CONDITIONS)]} runbook {i}
team: payments
service: {service}
alerts: [{alert}]
tags: [{rng.choice(WORDS)}, {rng.choice(WORDS)}]
owner: lead
review_every: 90
last_reviewed: 2026-09-01
---

# {service} {CONDITIONS[i % len(CONDITIONS)]}

## Meaning

The {COMMON_WORD} {service} fired {alert}. {paragraph(rng)}{extra}{japanese}

## Impact

{paragraph(rng)} {paragraph(rng, 25)}

## Diagnosis

```bash
kubectl -n {service} get pods -o wide
kubectl -n {service} logs deploy/{service} --since=15m | grep -i error
```

```promql
sum(rate(http_requests_total{{service="{service}", code=~"5.."}}[5m]))
  / sum(rate(http_requests_total{{service="{service}"}}[5m]))
```

| Symptom | Cause |
|---|---|
| {rng.choice(WORDS)} | {rng.choice(WORDS)} {rng.choice(WORDS)} |
| {rng.choice(WORDS)} | {rng.choice(WORDS)} {rng.choice(WORDS)} |

## Mitigation

1. {paragraph(rng, 15)}

   ```bash
   kubectl -n {service} rollout undo deploy/{service}
   ```

2. {paragraph(rng, 20)}
3. {paragraph(rng, 12)}

## Escalation

{paragraph(rng, 20)}
"""


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def summary_ms(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return f"p50 {statistics.median(ms):6.2f} ms   p95 {percentile(ms, 95):6.2f} ms"


def postgres_available() -> str:
    """ "" when PostgreSQL answers, otherwise why not."""
    try:
        import psycopg

        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            return ""
    except Exception as e:  # noqa: BLE001 - any reason is reported, not raised
        return str(e).strip().splitlines()[0]


@contextmanager
def postgres_database(name: str):
    import psycopg

    parts = urlsplit(POSTGRES_URL)
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def machine() -> str:
    """The load and size of this machine, printed beside every figure."""
    one, five, _fifteen = os.getloadavg()
    return f"load average {one:.1f} (5 min {five:.1f}), {os.cpu_count()} cores"


def met(value: float, target: float) -> str:
    return "met" if value <= target else "NOT MET"


@contextmanager
def source_tree(ref: str):
    """The project's files at git revision ``ref``, in a temporary folder."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref], capture_output=True, check=True
    ).stdout
    with tempfile.TemporaryDirectory(prefix="oncall-bench-baseline-") as folder:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(folder, filter="data")
        yield Path(folder)


def run_child(script: str, engine: str, *, source: Path | None = None) -> dict:
    """Run ``script --child <engine>`` on a throw-away database; return what it reported.

    With ``source``, the child imports the ``oncall`` package (and migrates
    the database) from that folder instead of this working tree. A child
    reports by writing JSON to the file named in BENCH_RESULTS.
    """
    with tempfile.TemporaryDirectory(prefix="oncall-bench-runbooks-") as workdir:
        results = Path(workdir) / "results.json"
        env = {
            **os.environ,
            "ONCALL_VAR_DIR": workdir,
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "oncall.settings",
            "BENCH_RESULTS": str(results),
        }
        env.pop("REDIS_URL", None)
        code = source or ROOT
        # The renderer process is started with -m from the working folder.
        env["BENCH_SOURCE"] = str(code)
        env["PYTHONPATH"] = str(code)
        command = [sys.executable, str(Path(script).resolve()), "--child", engine]
        if engine == "postgresql":
            with postgres_database(f"oncall_bench_runbooks_{os.getpid()}") as url:
                env["DATABASE_URL"] = url
                subprocess.run(command, env=env, cwd=code, check=True)
        else:
            env["DATABASE_URL"] = f"sqlite:///{workdir}/bench.sqlite3"
            subprocess.run(command, env=env, cwd=code, check=True)
        return json.loads(results.read_text()) if results.exists() else {}


def engines_available(engines: list[str]) -> list[str]:
    available = []
    for engine in engines:
        reason = postgres_available() if engine == "postgresql" else ""
        if reason:
            print(f"[{engine}] skipped: {reason}")
        else:
            available.append(engine)
    return available


def run_children(script: str, engines: list[str]) -> None:
    """Run ``script --child <engine>`` for each engine, each with its own database."""
    for engine in engines_available(engines):
        run_child(script, engine)


def report_results(results: dict) -> None:
    """Hand a child's figures to its parent (see run_child)."""
    path = os.environ.get("BENCH_RESULTS")
    if path:
        Path(path).write_text(json.dumps(results), encoding="utf-8")


ENGINES = ["sqlite", "postgresql"]


def baseline_arguments(argv: list[str]) -> tuple[str | None, int, list[str]]:
    """``--baseline REF``, ``--rounds N`` and ``--engine NAME`` (repeatable) from the command line."""
    ref, rounds, engines = None, 1, []
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--baseline" and args:
            ref = args.pop(0)
        elif arg == "--rounds" and args:
            rounds = int(args.pop(0))
        elif arg == "--engine" and args and args[0] in ENGINES:
            engines.append(args.pop(0))
        else:
            raise SystemExit(
                f"unknown argument {arg!r} (use --baseline REF, --rounds N, --engine sqlite|postgresql)"
            )
    return ref, rounds, engines or ENGINES


def setup_django() -> None:
    sys.path.insert(0, os.environ.get("BENCH_SOURCE", str(ROOT)))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
