import datetime
import re

import pytest

from postmortems import services
from postmortems.rendering import markdown_to_html, postmortem_markdown
from postmortems.selectors import template_section_list
from tests.incidents.factories import UserFactory

from .factories import priority, resolved_incident

pytestmark = pytest.mark.django_db

# The headings and tables of the policy's post-mortem template, in order.
TEMPLATE_HEADINGS = [
    "# Post-Incident Review: Elevated error rates on API",
    "## Executive Summary",
    "## Timeline",
    "## Impact",
    "## Root Cause",
    "## Contributing Factors",
    "## What Went Well",
    "## What Went Poorly",
    "## Action Items",
    "## Lessons Learned",
]
HEADER_FIELDS = ["**Date:**", "**Duration:**", "**Severity:**", "**Author:**", "**Reviewers:**"]


def _filled_postmortem():
    postmortem = resolved_incident().postmortem
    owner = UserFactory(first_name="Alice", last_name="Okafor")
    postmortem = services.postmortem_update(
        actor=None,
        postmortem=postmortem,
        fields={
            "executive_summary": "The API returned errors for 40 minutes.",
            "root_cause": "A config push | with a pipe.",
            "contributing_factors": "No canary\n- Alert too slow",
            "what_went_well": "Fast rollback",
            "what_went_poorly": "Status page late",
            "lessons_learned": "Canary every config push.",
            "customers_affected": "12%",
            "requests_failed": "48,000",
            "financial_impact": "None",
            "sla_impact": "No credits",
        },
        reviewers=[owner],
    )
    services.action_item_create(
        actor=None,
        postmortem=postmortem,
        title="Add config canary",
        owner=owner,
        priority=priority("P1"),
        due_date=datetime.date(2026, 4, 1),
    )
    return postmortem


def test_export_headings_in_template_order():
    text = postmortem_markdown(_filled_postmortem(), template_section_list())

    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings == TEMPLATE_HEADINGS


def test_export_header_fields_in_order():
    lines = postmortem_markdown(_filled_postmortem(), template_section_list()).splitlines()

    fields = [line.split(" ")[0] for line in lines[2:7]]
    assert fields == HEADER_FIELDS


def test_export_tables_have_template_columns():
    text = postmortem_markdown(_filled_postmortem(), template_section_list())

    table_heads = [line for line in text.splitlines() if re.match(r"^\| [A-Z]", line)]
    assert table_heads[0] == "| Time (UTC) | Event |"
    assert "| Action | Owner | Priority | Due Date |" in table_heads
    assert "| Add config canary | Alice Okafor | P1 | 2026-04-01 |" in text


def test_export_impact_and_lists():
    text = postmortem_markdown(_filled_postmortem(), template_section_list())

    assert "- **Customers affected:** 12%" in text
    assert "- No canary\n- Alert too slow" in text
    assert "A config push \\| with a pipe." not in text  # Only table cells escape pipes.


def test_export_timeline_starts_with_detection():
    text = postmortem_markdown(_filled_postmortem(), template_section_list())

    timeline = text.split("## Timeline\n")[1].splitlines()
    assert timeline[2].endswith("| Impact detected |")


def test_markdown_strips_script_and_handlers():
    html = markdown_to_html(
        'Hi <img src=x onerror="alert(1)"> <script>x()</script>[a](javascript:x)'
    )

    assert "<script" not in html
    assert "onerror" not in html
    assert "javascript:" not in html
