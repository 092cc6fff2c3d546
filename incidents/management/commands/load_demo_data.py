from importlib import import_module

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from incidents.demo import DEMO_PASSWORD, DEMO_USERNAME, demo_data_load

# Other apps with demo data, each loaded by `<app>.demo.demo_data_load()` after the incidents.
DEMO_APPS = ["alerts"]


class Command(BaseCommand):
    help = (
        "Create demo users, services, customers and incidents in every phase, once. "
        "Refused unless DEBUG is on, because the demo users share a published password."
    )

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("Demo data is for local use only: set DEBUG=true to load it.")
        created = demo_data_load()
        for app in DEMO_APPS:
            import_module(f"{app}.demo").demo_data_load()
        if created:
            self.stdout.write("Loaded the demo data set.")
        else:
            self.stdout.write("Demo data already present; nothing changed.")
        self.stdout.write(
            self.style.SUCCESS(f"Demo login: username {DEMO_USERNAME}, password {DEMO_PASSWORD}")
        )
