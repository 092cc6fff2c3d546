from django.conf import settings
from django.contrib.syndication.views import Feed
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed

from .selectors import status_page_get


class StatusUpdateFeed(Feed):
    """The public status updates of the status page as an Atom feed, newest first."""

    feed_type = Atom1Feed
    author_name = settings.STATUS_PAGE_TITLE

    def title(self):
        return settings.STATUS_PAGE_TITLE

    def subtitle(self):
        return "Public updates about incidents affecting ARKA services; times in UTC."

    def link(self):
        return reverse("communications:status")

    def items(self):
        data = status_page_get()
        entries = []
        for incident in data["open_incidents"] + data["resolved_incidents"]:
            for update in incident["updates"]:
                entries.append({**update, "incident": incident})
        return sorted(entries, key=lambda entry: (entry["posted_at"], entry["id"]), reverse=True)

    def item_title(self, item):
        return f"[{item['status_label']}] {item['incident']['title']}"

    def item_description(self, item):
        return item["body"]

    def item_link(self, item):
        path = reverse("communications:status_incident", args=[item["incident"]["id"]])
        return f"{path}#update-{item['id']}"

    def item_guid(self, item):
        return f"{settings.PORTAL_BASE_URL}/status/updates/{item['id']}"

    item_guid_is_permalink = False

    def item_pubdate(self, item):
        return item["posted_at"]

    def item_updateddate(self, item):
        return item["posted_at"]
