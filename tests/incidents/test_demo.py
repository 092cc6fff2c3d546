import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from incidents.models import Incident, Phase

pytestmark = pytest.mark.django_db


def test_demo_data_covers_every_phase(settings, capsys):
    settings.DEBUG = True

    call_command("load_demo_data")

    phases = set(Incident.objects.values_list("phase", flat=True))
    assert phases == set(Phase.values)
    assert "Demo login: username demo, password arka-demo" in capsys.readouterr().out


def test_demo_data_loads_once(settings):
    settings.DEBUG = True
    call_command("load_demo_data")
    count = Incident.objects.count()

    call_command("load_demo_data")

    assert Incident.objects.count() == count


def test_demo_data_refused_without_debug(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG=true"):
        call_command("load_demo_data")
