"""The loaded policy must equal the tables of the ARKA policy document, read from the document."""

import datetime
import re
from pathlib import Path

import pytest
from django.core.management import call_command

from arka_portal.policy.loader import parse_duration
from incidents.models import (
    ChecklistTemplateItem,
    PhaseDefinition,
    Severity,
    SeverityCriterion,
    SeverityMatrixCell,
)

POLICY_DOCUMENT = Path(__file__).resolve().parents[2] / "docs/policy/arka-incident-response.md"

pytestmark = pytest.mark.django_db


def _section(title: str) -> str:
    text = POLICY_DOCUMENT.read_text(encoding="utf-8")
    start = text.index(title)
    end = text.find("\n#", start + len(title))
    return text[start:end]


def _table_rows(section: str) -> list[list[str]]:
    rows = []
    for line in section.splitlines():
        if line.startswith("|") and not set(line) <= set("|-: "):
            rows.append([cell.strip().strip("*") for cell in line.strip("|").split("|")])
    return rows[1:]


def _document_duration(text: str) -> datetime.timedelta:
    number, unit = re.match(r"(?:Within )?(\d+) (min|hour|hours)", text).groups()
    return parse_duration(f"{number}{'m' if unit == 'min' else 'h'}")


def test_severities_match_document():
    rows = _table_rows(_section("### Severity Levels"))

    assert [row[0] for row in rows] == list(Severity.objects.values_list("key", flat=True))
    for key, name, definition, response_time, examples in rows:
        severity = Severity.objects.get(key=key)
        assert severity.name == name
        assert severity.definition == definition
        assert severity.response_time == _document_duration(response_time)
        assert severity.examples == examples


def test_status_cadence_matches_document():
    rows = _table_rows(_section("#### Status Page Updates"))

    for key, first_update, frequency, resolution in rows:
        severity = Severity.objects.get(key=key)
        if first_update == "Optional":
            assert severity.first_update_within is None
        else:
            assert severity.first_update_within == _document_duration(first_update)
        if frequency == "As needed":
            assert severity.update_every is None
        else:
            assert severity.update_every == _document_duration(frequency.replace("Every ", ""))
        assert severity.resolution_notice == resolution


def test_matrix_matches_document():
    section = _section("### Impact Assessment Matrix")
    rows = {}
    for line in section.splitlines():
        match = re.search(r"(High|Medium|Low)\s+│\s+(SEV-\d)\s+(SEV-\d)\s+(SEV-\d)", line)
        if match:
            rows[match.group(1)] = match.groups()[1:]

    assert len(rows) == 3
    for impact, severities in rows.items():
        for urgency, key in zip(("high", "medium", "low"), severities, strict=True):
            cell = SeverityMatrixCell.objects.get(impact=impact.lower(), urgency=urgency)
            assert cell.severity.key == key, f"impact {impact} x urgency {urgency}"


@pytest.mark.parametrize("key", ["SEV-1", "SEV-2", "SEV-3"])
def test_criteria_match_document(key):
    section = _section(f"#### {key} Criteria")
    expected = re.findall(r"- \[ \] (.+)", section)

    loaded = list(
        SeverityCriterion.objects.filter(severity__key=key)
        .order_by("position")
        .values_list("text", flat=True)
    )

    assert loaded == expected


@pytest.mark.parametrize(
    ("phase", "heading"),
    [
        ("detect", "## Detection Checklist"),
        ("triage", "## Triage Checklist"),
        ("respond", "## Response Checklist"),
        ("resolve", "## Resolution Checklist"),
        ("review", "## Post-Incident Checklist"),
    ],
)
def test_checklists_match_document(phase, heading):
    text = POLICY_DOCUMENT.read_text(encoding="utf-8")
    block = text[text.index(heading) : text.index("```", text.index(heading))]
    expected = re.findall(r"- \[ \] (.+)", block)

    loaded = list(
        ChecklistTemplateItem.objects.filter(phase=phase)
        .order_by("position")
        .values_list("text", flat=True)
    )

    assert loaded == expected


def test_phase_windows_match_document():
    assert PhaseDefinition.objects.get(phase="detect").due_within == parse_duration("5m")
    assert PhaseDefinition.objects.get(phase="triage").due_within == parse_duration("15m")


def _snapshot():
    from django.apps import apps

    rows = {}
    for model in apps.get_models():
        if hasattr(model, "policy_checksum"):
            rows[model.__name__] = list(model.objects.order_by("pk").values())
    return rows


def test_load_twice_changes_nothing(capsys):
    before = _snapshot()

    call_command("load_arka_policy")
    after = _snapshot()

    assert after == before
    assert "created 0, updated 0" in capsys.readouterr().out


def test_load_keeps_admin_edit(capsys):
    Severity.objects.filter(key="SEV-1").update(response_time=datetime.timedelta(minutes=10))

    call_command("load_arka_policy")

    output = capsys.readouterr().out
    assert Severity.objects.get(key="SEV-1").response_time == datetime.timedelta(minutes=10)
    assert "kept severity SEV-1 (edited in the admin: response_time)" in output


def test_load_restores_deleted_row():
    SeverityCriterion.objects.filter(severity__key="SEV-3", position=5).delete()

    call_command("load_arka_policy", verbosity=0)

    assert SeverityCriterion.objects.filter(severity__key="SEV-3", position=5).exists()
