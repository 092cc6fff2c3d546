"""Time one escalation sweep over 10,000 open incidents on PostgreSQL.

Usage: DATABASE_URL=postgres://... python -m bench.escalation_sweep [--incidents N] [--due N]

The benchmark creates its own database (the configured name with a _bench suffix), fills it with
open incidents whose escalations are running, makes a few of them due, and times one sweep. As a
baseline in the same run it times a plain SELECT of every open escalation row, the work a sweep
that scanned all open incidents would do at the least. The database is dropped at the end.
"""

import argparse
import datetime
import os
import statistics
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arka_portal.test_settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402

BASELINE_REPEATS = 5


def _fill(*, incidents: int, due: int, now: datetime.datetime) -> None:
    from django.contrib.auth import get_user_model

    from incidents.models import Incident, Level, Severity
    from paging.models import Escalation
    from paging.services import _policy_snapshot

    severity = Severity.objects.get(key="SEV-1")
    snapshot = _policy_snapshot(severity)
    started = now - datetime.timedelta(minutes=5)
    Incident.objects.bulk_create(
        [
            Incident(
                title=f"Benchmark incident {number}",
                description="Created by bench/escalation_sweep.py",
                impact=Level.HIGH,
                urgency=Level.HIGH,
                severity=severity,
                channel_name=f"#inc-bench-{number}",
                detected_at=started,
                declared_at=started,
                last_activity_at=started,
            )
            for number in range(incidents)
        ],
        batch_size=2000,
    )
    later = now + datetime.timedelta(minutes=10)
    rows = []
    for number, incident_id in enumerate(Incident.objects.values_list("pk", flat=True)):
        is_due = number < due
        rows.append(
            Escalation(
                incident_id=incident_id,
                severity_key=severity.key,
                policy_snapshot=snapshot,
                run_started_at=started,
                next_step=1,
                next_due_at=now if is_due else later,
                response_due_at=later,
            )
        )
    Escalation.objects.bulk_create(rows, batch_size=2000)
    get_user_model().objects.create_user(username="bench-on-call", email="on-call@example.com")
    connection.cursor().execute("ANALYZE")


def _time(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=10_000, help="Open incidents to create.")
    parser.add_argument("--due", type=int, default=10, help="How many of them are due now.")
    arguments = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("The benchmark needs PostgreSQL: set DATABASE_URL=postgres://...")

    import oncall.selectors
    from paging.models import Escalation
    from paging.services import escalation_sweep

    setup_test_environment()
    connection.settings_dict["TEST"]["NAME"] = f"{connection.settings_dict['NAME']}_bench"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        with open(os.devnull, "w") as devnull:
            call_command("load_arka_policy", stdout=devnull)
        now = timezone.now()
        _fill(incidents=arguments.incidents, due=arguments.due, now=now)
        from django.contrib.auth import get_user_model

        on_call = get_user_model().objects.get(username="bench-on-call")
        oncall.selectors.layer_on_call_get = lambda **kwargs: on_call

        def baseline():
            list(
                Escalation.objects.filter(stopped_at__isnull=True).values_list("pk", "next_due_at")
            )

        baseline_times = [_time(baseline) for _ in range(BASELINE_REPEATS)]
        with CaptureQueriesContext(connection) as queries:
            result = {}
            sweep_time = _time(lambda: result.update(sweep=escalation_sweep(now=now)))
        open_count = Escalation.objects.filter(stopped_at__isnull=True).count()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)

    sweep = result["sweep"]
    print(f"open incidents with running escalations: {open_count}, due now: {arguments.due}")
    print(
        f"one sweep: {sweep_time * 1000:.1f} ms, paged {sweep.pages} steps, "
        f"{len(queries.captured_queries)} queries"
    )
    print(
        f"baseline, SELECT of all {open_count} open escalation rows: "
        f"median {statistics.median(baseline_times) * 1000:.1f} ms of {BASELINE_REPEATS} runs"
    )
    print(f"goal under 1 s: {'met' if sweep_time < 1 else 'NOT met'}")


if __name__ == "__main__":
    main()
