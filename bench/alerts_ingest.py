"""Alert ingestion benchmark: the portal as production runs it, fed by concurrent senders.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/arka_bench \
    CELERY_BROKER_URL=redis://127.0.0.1:6379/0 python -m bench.alerts_ingest

Use a scratch database: the benchmark migrates it, loads the policy and adds its own integrations.
It starts gunicorn, which stores each delivery and returns 202, and a Celery worker, which turns
deliveries into alerts and incidents. It posts grouped Alertmanager payloads and single generic
events, each body twice (a repeat), over several client connections, and prints two rates: accepted
alerts per second (until the last 202) and processed alerts per second (until no delivery is
pending), with request latency percentiles. It checks that every distinct alert is stored once
with the right repeat count and that each service's storm opened one incident. Then it times plain
ORM inserts of the same number of rows in the same database, so the ratios are meaningful.
"""

import argparse
import asyncio
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALERTS_PER_GROUP = 10
# Grouped payloads name one of this many services, so their alerts group into this many incidents.
SERVICES = 20


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _django_setup(env: dict) -> None:
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _alertmanager_body(run: str, group: int) -> bytes:
    alerts = []
    for number in range(ALERTS_PER_GROUP):
        alerts.append(
            {
                "status": "firing",
                "labels": {
                    "alertname": "BenchDiskFull",
                    "instance": f"db-{group}-{number}.bench:9100",
                    "service": f"bench-{group % SERVICES}",
                    "alert_rule": "disk_space",
                },
                "annotations": {"summary": f"Disk above 85% on db-{group}-{number}"},
                "startsAt": "2025-06-18T02:41:00.123456789Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": f"{run}-{group:05d}-{number:02d}",
            }
        )
    body = {"version": "4", "status": "firing", "receiver": "bench", "alerts": alerts}
    return json.dumps(body).encode()


def _generic_body(run: str, number: int) -> bytes:
    body = {
        "schema": "incident-portal.generic/v1",
        "source": "bench",
        "dedup_key": f"{run}/job/{number}",
        "status": "firing",
        "severity": "warning",
        "title": f"Bench job {number} late",
        "occurred_at": "2025-06-19T06:00:07+0000",
        "labels": {"job": f"job-{number}"},
    }
    return json.dumps(body).encode()


def _setup_integrations(run: str):
    from django.core.management import call_command

    from alerts import services
    from alerts.models import MatchMode
    from incidents.models import Severity

    with open(os.devnull, "w") as devnull:
        call_command("migrate", "--no-input", verbosity=0, stdout=devnull)
        call_command("load_arka_policy", stdout=devnull)
    severity = Severity.objects.get(key="SEV-4")
    tokens = {}
    for kind in ("alertmanager", "generic"):
        _, tokens[kind] = services.integration_create(
            actor=None,
            kind=kind,
            name=f"bench {kind} {run}",
            default_severity=severity,
            match_mode=MatchMode.LABELS,
            storm_limit_per_minute=0,
        )
    return tokens


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _request_bytes(port: int, kind: str, token: str, body: bytes) -> bytes:
    head = (
        f"POST /webhooks/{kind}/ HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 response and return its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "content-length":
            length = int(value)
    if length is None:
        raise SystemExit(f"A response had no Content-Length header: {lines[0]!r}")
    await reader.readexactly(length)
    return int(lines[0].split()[1])


def _post_all(port: int, requests_to_send: list, concurrency: int) -> tuple[list, list, float]:
    """Post every request over `concurrency` keep-alive connections, in the order given.

    The client shares the machine's CPUs with the portal, so it writes requests prepared in
    advance from one asyncio loop. In runs of the default workload, `requests` from 16 threads
    used about ten times the CPU of this, and `http.client` two to three times as much.
    """
    prepared = [_request_bytes(port, *item) for item in requests_to_send]
    statuses: list[int] = [0] * len(prepared)
    latencies: list[float] = [0.0] * len(prepared)
    next_index = iter(range(len(prepared)))

    async def connection_loop():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for index in next_index:
            started = time.perf_counter()
            writer.write(prepared[index])
            statuses[index] = await asyncio.wait_for(_read_response(reader), timeout=60)
            latencies[index] = time.perf_counter() - started
        writer.close()
        await writer.wait_closed()

    async def post_all():
        await asyncio.gather(*(connection_loop() for _ in range(concurrency)))

    started = time.perf_counter()
    asyncio.run(post_all())
    return statuses, latencies, time.perf_counter() - started


def _wait_until_up(port: int, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("gunicorn exited before it responded; see its output above.")
        try:
            # A GET on a webhook address returns 405 without touching the database.
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/webhooks/generic/")
            connection.getresponse().read()
            connection.close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not respond within 30 seconds.")


def _wait_until_worker_ready(worker: subprocess.Popen) -> None:
    """Wait until the Celery worker replies to a ping, so its start-up is not timed."""
    from arka_portal.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise SystemExit("The Celery worker exited before it was ready; see its output above.")
        if app.control.ping(timeout=1.0):
            return
    raise SystemExit(
        "The Celery worker did not reply to a ping within 60 seconds; see its output above."
    )


def _wait_until_idle(processes: list[subprocess.Popen]) -> None:
    """Wait until the processes use almost no CPU, so that no worker is still starting."""
    deadline = time.monotonic() + 60
    used = sum(_cpu_seconds(process.pid) for process in processes)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now_used = sum(_cpu_seconds(process.pid) for process in processes)
        if now_used - used < 0.05:
            return
        used = now_used
    raise SystemExit(
        "gunicorn and Celery were still using CPU after 60 seconds without load; "
        "see their output above."
    )


def _wait_until_processed(run: str, worker: subprocess.Popen, timeout: float) -> bool:
    """Poll until no delivery of this run is pending; False when the timeout passes first."""
    from alerts.models import Delivery

    pending = Delivery.objects.filter(
        integration__name__endswith=run, status=Delivery.Status.PENDING
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise SystemExit("The Celery worker exited; see its output above.")
        if not pending.exists():
            return True
        time.sleep(0.1)
    return False


def _pending_count(run: str) -> int:
    from alerts.models import Delivery

    return Delivery.objects.filter(
        integration__name__endswith=run, status=Delivery.Status.PENDING
    ).count()


def _cpu_seconds(root_pid: int) -> float:
    """CPU seconds (user and system) used so far by a process and its living descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    children, used = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)
        used[pid] = (int(fields[11]) + int(fields[12])) / tick
    total, stack = 0.0, [root_pid]
    while stack:
        pid = stack.pop()
        total += used.get(pid, 0.0)
        stack.extend(children.get(pid, []))
    return total


def _cpu_seconds_by_name(names: tuple[str, ...]) -> float:
    """CPU seconds used so far by every process whose command name is one of `names`."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name, fields = (entry / "stat").read_text().rsplit(")", 1)
        except OSError:
            continue
        if name.split("(", 1)[1] in names:
            fields = fields.split()
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _cpu_snapshot(server: subprocess.Popen, worker: subprocess.Popen) -> list[float]:
    return [
        _cpu_seconds(server.pid),
        _cpu_seconds(worker.pid),
        time.process_time(),
        _cpu_seconds_by_name(("postgres",)),
        _cpu_seconds_by_name(("redis-server",)),
    ]


def _start(command: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", *command], cwd=ROOT, env={**os.environ, **env})


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def _baseline(count: int, run: str) -> float:
    """Insert `count` alert rows one by one through the ORM, each in its own transaction."""
    from django.db import transaction
    from django.utils import timezone

    from alerts import services
    from alerts.models import Alert
    from incidents.models import Severity

    severity = Severity.objects.get(key="SEV-4")
    integration, _ = services.integration_create(
        actor=None, kind="generic", name=f"bench baseline {run}", default_severity=severity
    )
    started = time.perf_counter()
    for number in range(count):
        now = timezone.now()
        with transaction.atomic():
            Alert.objects.create(
                integration=integration,
                source="generic",
                identity=f"{run}/baseline/{number}",
                status="firing",
                title=f"Bench job {number} late",
                severity=severity,
                labels={"job": f"job-{number}"},
                starts_at=now,
                first_seen_at=now,
                last_seen_at=now,
            )
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=200, help="Alertmanager payloads of 10.")
    parser.add_argument("--singles", type=int, default=1000, help="Generic single events.")
    # The defaults are the production settings the README gives: a gunicorn gthread worker and
    # a Celery process per CPU.
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="gunicorn worker processes."
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=8,
        help="Threads per gunicorn worker; above 1 uses the gthread worker, which keeps "
        "connections alive.",
    )
    parser.add_argument(
        "--concurrency", type=int, default=16, help="Client keep-alive connections."
    )
    parser.add_argument(
        "--celery-concurrency",
        type=int,
        default=os.cpu_count() or 1,
        help="Celery worker processes.",
    )
    parser.add_argument(
        "--celery-pool", default="prefork", help="Celery worker pool: prefork or threads."
    )
    parser.add_argument(
        "--timeout", type=float, default=600, help="Seconds to wait for processing to finish."
    )
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgres"):
        raise SystemExit("Set DATABASE_URL to a scratch PostgreSQL database, such as arka_bench.")
    broker_url = os.environ.get("CELERY_BROKER_URL", "")
    if not broker_url.startswith("redis"):
        raise SystemExit("Set CELERY_BROKER_URL to a Redis database, such as redis://127.0.0.1/0.")
    env = {
        "DJANGO_SETTINGS_MODULE": "arka_portal.settings",
        "SECRET_KEY": "bench-only-secret-key",
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        "CELERY_BROKER_URL": broker_url,
    }
    _django_setup(env)
    run = f"r{int(time.time())}"
    tokens = _setup_integrations(run)

    bodies = [("alertmanager", _alertmanager_body(run, group)) for group in range(args.groups)]
    bodies += [("generic", _generic_body(run, number)) for number in range(args.singles)]
    to_send = [(kind, tokens[kind], body) for kind, body in bodies] * 2
    random.Random(7).shuffle(to_send)
    distinct = args.groups * ALERTS_PER_GROUP + args.singles
    posted_alerts = 2 * distinct

    port = int(os.environ.get("BENCH_PORT", 0)) or _free_port()
    server = _start(
        [
            "gunicorn",
            "arka_portal.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
            "--log-level",
            "warning",
        ],
        env,
    )
    worker = _start(
        [
            "celery",
            "--app",
            "arka_portal",
            "worker",
            "--pool",
            args.celery_pool,
            "--concurrency",
            str(args.celery_concurrency),
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
        ],
        env,
    )
    try:
        _wait_until_up(port, server)
        _wait_until_worker_ready(worker)
        _wait_until_idle([server, worker])
        cpu_before = _cpu_snapshot(server, worker)
        started = time.perf_counter()
        statuses, latencies, elapsed = _post_all(port, to_send, args.concurrency)
        pending_after_accept = _pending_count(run)
        drained = _wait_until_processed(run, worker, args.timeout)
        processed_elapsed = time.perf_counter() - started
        cpu_after = _cpu_snapshot(server, worker)
    finally:
        _stop(server)
        _stop(worker)

    from django.db.models import Sum

    from alerts.models import Alert, Delivery
    from incidents.models import Incident

    alerts = Alert.objects.filter(integration__name__endswith=run)
    stored = alerts.count()
    repeats = alerts.aggregate(total=Sum("repeat_count"))["total"] or 0
    pending = Delivery.objects.filter(
        integration__name__endswith=run, status=Delivery.Status.PENDING
    ).count()
    incidents = Incident.objects.filter(alerts__integration__name__endswith=run).distinct().count()
    expected_incidents = min(args.groups, SERVICES)
    baseline = _baseline(distinct, run)
    rate = posted_alerts / elapsed
    processed_rate = posted_alerts / processed_elapsed

    print(
        f"cpus {os.cpu_count()}, gunicorn workers {args.workers} of {args.threads} "
        f"thread{'' if args.threads == 1 else 's'}, celery {args.celery_pool} "
        f"pool of {args.celery_concurrency}, client connections {args.concurrency}"
    )
    print(
        f"requests {len(to_send)} ({args.groups * 2} grouped of {ALERTS_PER_GROUP}, "
        f"{args.singles * 2} single), alerts posted {posted_alerts}"
    )
    print(f"answers: {', '.join(f'{code} x{statuses.count(code)}' for code in set(statuses))}")
    print(
        f"accepted: {rate:.0f} alerts/s, {len(to_send) / elapsed:.0f} requests/s "
        f"(last 202 after {elapsed:.2f} s)"
    )
    print(
        f"processed: {processed_rate:.0f} alerts/s end to end "
        f"(no delivery pending after {processed_elapsed:.2f} s; {pending_after_accept} "
        "were pending at the last 202)"
        + ("" if drained else f"; TIMED OUT after {args.timeout:.0f} s")
    )
    server_cpu, worker_cpu, client_cpu, database_cpu, redis_cpu = (
        after - before for before, after in zip(cpu_before, cpu_after, strict=True)
    )
    print(
        f"cpu seconds: gunicorn {server_cpu:.1f}, celery {worker_cpu:.1f}, "
        f"postgresql {database_cpu:.1f}, redis {redis_cpu:.1f}, client and polling "
        f"{client_cpu:.1f}; per 1,000 alerts processed: gunicorn "
        f"{server_cpu / posted_alerts * 1000:.2f}, celery {worker_cpu / posted_alerts * 1000:.2f}, "
        f"postgresql {database_cpu / posted_alerts * 1000:.2f}"
    )
    print(
        f"latency ms: p50 {_percentile(latencies, 0.50) * 1000:.1f}, p95 {_percentile(latencies, 0.95) * 1000:.1f}, p99 {_percentile(latencies, 0.99) * 1000:.1f}, mean {statistics.mean(latencies) * 1000:.1f}"
    )
    print(
        f"stored alerts {stored} (expected {distinct}), repeats {repeats} "
        f"(expected {distinct}), deliveries still pending {pending}, incidents {incidents} "
        f"(expected {expected_incidents})"
    )
    print(
        f"baseline: {baseline:.0f} plain ORM inserts/s; accepted/baseline {rate / baseline:.2f}, "
        f"processed/baseline {processed_rate / baseline:.2f}"
    )
    ok = stored == distinct and repeats == distinct and pending == 0
    ok = ok and incidents == expected_incidents and set(statuses) == {202}
    print("result: " + ("nothing lost or duplicated" if ok else "MISMATCH: see the counts above"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
