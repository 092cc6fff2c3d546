"""The portal's user groups and the permissions each one has, applied by `load_arka_policy`.

Permissions are named "app_label.codename". Admins also get staff status through the admin site;
every other group works only through the portal's pages.
"""

VIEWER_PERMISSIONS = [
    "incidents.view_incident",
    "postmortems.view_postmortem",
]
RESPONDER_PERMISSIONS = [
    *VIEWER_PERMISSIONS,
    "incidents.declare_incident",
    "incidents.work_incident",
    "postmortems.write_postmortem",
]
COMMANDER_PERMISSIONS = [
    *RESPONDER_PERMISSIONS,
    "incidents.command_incident",
]
MANAGER_PERMISSIONS = [
    *COMMANDER_PERMISSIONS,
    "postmortems.manage_action_items",
]

GROUP_PERMISSIONS = {
    "Viewers": VIEWER_PERMISSIONS,
    "Responders": RESPONDER_PERMISSIONS,
    "Incident Commanders": COMMANDER_PERMISSIONS,
    "Managers": MANAGER_PERMISSIONS,
    # Admins get every permission of the project's apps; see ADMIN_APPS.
    "Admins": COMMANDER_PERMISSIONS,
}
ADMIN_APPS = ["incidents", "oncall", "postmortems", "django_celery_beat", "auth"]
