"""Load the ARKA policy file into the database without overwriting an admin's edits.

Each policy-backed row stores a checksum of the values it was last loaded with. On a later load, a
row whose current values still match that checksum is brought up to date with the file. A row an
admin has edited since is kept as it is and reported, so nothing is overwritten silently.
"""

import datetime
import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from django.db import models

logger = logging.getLogger(__name__)

POLICY_PATH = Path(__file__).resolve().parent / "arka.yaml"

_DURATION_RE = re.compile(r"^(?P<number>\d+)(?P<unit>[mhd])$")
_DURATION_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str | None) -> datetime.timedelta | None:
    """Convert a policy duration such as "15m", "2h" or "7d" to a timedelta; None stays None."""
    if text is None:
        return None
    match = _DURATION_RE.match(str(text).strip())
    if match is None:
        raise ValueError(f"invalid policy duration {text!r}: expected a number then m, h or d")
    unit = _DURATION_UNITS[match["unit"]]
    return datetime.timedelta(**{unit: int(match["number"])})


def read_policy(path: Path = POLICY_PATH) -> dict:
    with path.open(encoding="utf-8") as policy_file:
        return yaml.safe_load(policy_file)


@dataclass
class PolicyLoadReport:
    """The rows one run of the loader created, updated, left unchanged or kept, by label."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        lines = [
            f"created {len(self.created)}, updated {len(self.updated)}, "
            f"unchanged {len(self.unchanged)}, kept after admin edits {len(self.kept)}"
        ]
        lines += [f"  created {label}" for label in self.created]
        lines += [f"  updated {label}" for label in self.updated]
        lines += [f"  kept {label}" for label in self.kept]
        return lines


class PolicyRow(models.Model):
    """A row whose values come from the policy file and may be edited in the admin."""

    policy_checksum = models.CharField(
        max_length=64,
        blank=True,
        editable=False,
        help_text="Checksum of the values last loaded from the policy file; empty if added by hand.",
    )

    class Meta:
        abstract = True


def _comparable(value):
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, datetime.time):
        return value.isoformat()
    return value


def _checksum(values: dict) -> str:
    comparable = {name: _comparable(value) for name, value in sorted(values.items())}
    encoded = json.dumps(comparable, sort_keys=True, default=str).encode()
    return hashlib.sha256(encoded).hexdigest()


def policy_row_upsert(
    model: type[PolicyRow],
    *,
    lookup: dict,
    values: dict,
    report: PolicyLoadReport,
    label: str,
) -> PolicyRow:
    """Create or refresh the row found by `lookup` with `values`, unless an admin has edited it."""
    file_checksum = _checksum(values)
    row = model.objects.filter(**lookup).first()
    if row is None:
        row = model(**lookup, **values, policy_checksum=file_checksum)
        row.full_clean()
        row.save()
        report.created.append(label)
        return row

    current = {name: getattr(row, name) for name in values}
    current_checksum = _checksum(current)
    if current_checksum == file_checksum:
        if row.policy_checksum != file_checksum:
            row.policy_checksum = file_checksum
            row.save(update_fields=["policy_checksum"])
        report.unchanged.append(label)
        return row

    if row.policy_checksum == current_checksum:
        for name, value in values.items():
            setattr(row, name, value)
        row.policy_checksum = file_checksum
        row.full_clean()
        row.save()
        report.updated.append(label)
        return row

    edited = sorted(
        name for name in values if _comparable(current[name]) != _comparable(values[name])
    )
    report.kept.append(f"{label} (edited in the admin: {', '.join(edited)})")
    logger.info("Kept admin edits of %s: %s", label, edited)
    return row
