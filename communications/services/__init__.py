"""Writes of the communications app, split by concern; import them from here."""

from .cadence import cadence_reminder_send
from .enterprise import (
    enterprise_call_complete,
    enterprise_notice_email_send,
    enterprise_notices_open,
    enterprise_report_mark_sent,
    enterprise_resolution_emails_send,
)
from .hooks import (
    incident_declared_handle,
    incident_phase_changed_handle,
    incident_resolved_handle,
    incident_severity_changed_handle,
    status_update_posted_handle,
)
from .internal import (
    leadership_summary_schedule,
    leadership_summary_send,
    milestone_summary_post,
    resolution_summary_post,
)
from .subscribers import (
    status_page_cache_clear,
    status_update_subscribers_notify,
    subscriber_components_set,
    subscriber_confirm,
    subscriber_subscribe,
    subscriber_unsubscribe,
)

__all__ = [
    "cadence_reminder_send",
    "enterprise_call_complete",
    "enterprise_notice_email_send",
    "enterprise_notices_open",
    "enterprise_report_mark_sent",
    "enterprise_resolution_emails_send",
    "incident_declared_handle",
    "incident_phase_changed_handle",
    "incident_resolved_handle",
    "incident_severity_changed_handle",
    "leadership_summary_schedule",
    "leadership_summary_send",
    "milestone_summary_post",
    "resolution_summary_post",
    "status_page_cache_clear",
    "status_update_posted_handle",
    "status_update_subscribers_notify",
    "subscriber_components_set",
    "subscriber_confirm",
    "subscriber_subscribe",
    "subscriber_unsubscribe",
]
