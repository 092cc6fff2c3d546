"""The portal's user groups and the permissions each one has, applied by `load_arka_policy`.

Permissions are named "app_label.codename". Admins also get staff status through the admin site;
every other group works only through the portal's pages.
"""

VIEWER_PERMISSIONS = [
    "incidents.view_incident",
    "postmortems.view_postmortem",
    "runbooks.view_runbook",
    "oncall.view_rotation",
    "alerts.view_alert",
    "alerts.view_integration",
]
RESPONDER_PERMISSIONS = [
    *VIEWER_PERMISSIONS,
    "incidents.declare_incident",
    "incidents.work_incident",
    "postmortems.write_postmortem",
    "runbooks.record_runbookstep",
    # Responders are the people on call, so they may cover each other's shifts.
    "oncall.add_override",
    "paging.escalate_incident",
    "alerts.mark_alert",
]
COMMANDER_PERMISSIONS = [
    *RESPONDER_PERMISSIONS,
    "incidents.command_incident",
]
MANAGER_PERMISSIONS = [
    *COMMANDER_PERMISSIONS,
    "oncall.delete_override",
    "oncall.rotate_feed_token",
    "postmortems.manage_action_items",
]
# Members of this group, and superusers, are the only people who see security incidents at all:
# `incidents.selectors.incident_list` hides them from everyone else. Its permissions add the
# security work to whatever the member's other groups allow.
SECURITY_GROUP = "Security"
SECURITY_PERMISSIONS = [
    *RESPONDER_PERMISSIONS,
    "security.view_securityincident",
    "security.mark_securityincident",
    "security.work_securityincident",
    "security.manage_regulatoryobligation",
    "communications.manage_customer_communication",
]

GROUP_PERMISSIONS = {
    "Viewers": VIEWER_PERMISSIONS,
    "Responders": RESPONDER_PERMISSIONS,
    "Incident Commanders": COMMANDER_PERMISSIONS,
    "Managers": MANAGER_PERMISSIONS,
    SECURITY_GROUP: SECURITY_PERMISSIONS,
    # Admins get every permission of the project's apps; see ADMIN_APPS.
    "Admins": COMMANDER_PERMISSIONS,
}
# Admins may edit every row of these apps in the admin, but see security incidents there only
# when they are also in the Security group.
ADMIN_APPS = [
    "incidents",
    "oncall",
    "notifications",
    "postmortems",
    "security",
    "runbooks",
    "paging",
    "communications",
    "chatops",
    "alerts",
    "django_celery_beat",
    "auth",
]
