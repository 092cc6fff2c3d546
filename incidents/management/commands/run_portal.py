import signal
import subprocess
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Serve the portal for local use: Django's server plus one Celery worker with an embedded "
        "beat scheduler, stopped together with Ctrl+C."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on.")
        parser.add_argument("--port", default="8000", help="Port to listen on.")
        parser.add_argument(
            "--no-worker", action="store_true", help="Serve pages only; start no Celery worker."
        )

    def handle(self, *args, host, port, no_worker, **options):
        worker = None
        if not no_worker:
            worker = subprocess.Popen(  # noqa: S603
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "--app",
                    "arka_portal",
                    "worker",
                    "--beat",
                    "--scheduler",
                    settings.CELERY_BEAT_SCHEDULER,
                    # Threads stop at once on Ctrl+C; prefork children could keep the
                    # worker in its warm shutdown for long after the server is gone.
                    "--pool",
                    "threads",
                    "--concurrency",
                    "4",
                    "--loglevel",
                    "INFO",
                ]
            )
        self.stdout.write(f"Serving ARKA Portal at http://{host}:{port}/ (Ctrl+C stops it)")
        # SIGTERM would end this process without the cleanup below, leaving the worker running.
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
        try:
            call_command("runserver", f"{host}:{port}", use_reloader=False)
        finally:
            if worker is not None:
                worker.send_signal(signal.SIGTERM)
                try:
                    worker.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    worker.kill()
