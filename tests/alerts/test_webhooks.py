"""Each sender's native payloads through the real endpoint: what is stored and what is answered."""

import json

import pytest

from alerts.models import Alert, AlertStatus, Delivery, RejectedDelivery
from alerts.senders import parse_timestamp
from alerts.tasks import delivery_process_task
from arka_portal.celery import app as celery_app

from .factories import make_integration, payload, payload_json, sentry_headers

pytestmark = pytest.mark.django_db


def _meta_headers(headers: dict) -> dict:
    return {
        f"HTTP_{name.upper().replace('-', '_')}": value
        for name, value in headers.items()
        if name != "Content-Type"
    }


def test_alertmanager_firing_stores_alert(post):
    _, token = make_integration("alertmanager")

    response = post("alertmanager", payload("alertmanager", "01_firing_single.json"), token=token)

    assert response.status_code == 202
    alert = Alert.objects.get()
    assert response.json()["delivery_id"] == alert.last_delivery_id
    assert alert.identity == "a9bc3b1d431c06e9"
    assert alert.status == AlertStatus.FIRING
    assert alert.labels["service"] == "checkout-api"
    assert alert.annotations["runbook_url"].startswith("https://runbooks.")
    assert alert.starts_at == parse_timestamp("2025-06-17T14:02:31.482913Z")
    assert alert.ends_at is None
    assert alert.repeat_count == 0


def test_alertmanager_repeat_updates_alert(post):
    _, token = make_integration("alertmanager")
    body = payload("alertmanager", "01_firing_single.json")

    for _ in range(3):
        post("alertmanager", body, token=token)

    alert = Alert.objects.get()
    assert alert.repeat_count == 2
    assert Delivery.objects.count() == 3


def test_alertmanager_resolve_resolves_alert(post):
    _, token = make_integration("alertmanager")
    post("alertmanager", payload("alertmanager", "01_firing_single.json"), token=token)

    post("alertmanager", payload("alertmanager", "02_resolved_single.json"), token=token)

    alert = Alert.objects.get()
    assert alert.status == AlertStatus.RESOLVED
    assert alert.ends_at == parse_timestamp("2025-06-17T14:19:05.117Z")


def test_alertmanager_firing_after_resolve_is_new_occurrence(post):
    _, token = make_integration("alertmanager")
    post("alertmanager", payload("alertmanager", "01_firing_single.json"), token=token)
    post("alertmanager", payload("alertmanager", "02_resolved_single.json"), token=token)
    again = payload_json("alertmanager", "01_firing_single.json")
    again["alerts"][0]["startsAt"] = "2025-06-17T16:00:00Z"

    post("alertmanager", json.dumps(again), token=token)

    occurrences = list(Alert.objects.order_by("occurrence").values_list("occurrence", "status"))
    assert occurrences == [(1, AlertStatus.RESOLVED), (2, AlertStatus.FIRING)]


def test_alertmanager_late_firing_keeps_resolved(post):
    _, token = make_integration("alertmanager")
    post("alertmanager", payload("alertmanager", "01_firing_single.json"), token=token)
    post("alertmanager", payload("alertmanager", "02_resolved_single.json"), token=token)

    response = post("alertmanager", payload("alertmanager", "01_firing_single.json"), token=token)

    assert response.status_code == 202
    assert Alert.objects.get().status == AlertStatus.RESOLVED
    assert "older than its resolve" in Delivery.objects.latest("id").notes[0]


def test_alertmanager_grouped_payload_per_alert_status(post):
    _, token = make_integration("alertmanager")

    response = post(
        "alertmanager", payload("alertmanager", "03_group_mixed_firing_resolved.json"), token=token
    )

    assert response.status_code == 202
    assert Alert.objects.count() == 3
    assert not Alert.objects.filter(identity="c2df3411f32f564b").exists()
    assert "unknown alert 'c2df3411f32f564b'" in Delivery.objects.get().notes[0]


def test_alertmanager_absence_does_not_resolve(post):
    _, token = make_integration("alertmanager")
    grouped = payload_json("alertmanager", "03_group_mixed_firing_resolved.json")
    post("alertmanager", json.dumps(grouped), token=token)
    grouped["alerts"] = grouped["alerts"][:2]

    post("alertmanager", json.dumps(grouped), token=token)

    omitted = Alert.objects.get(identity="16656d740820c50e")
    assert omitted.status == AlertStatus.FIRING
    assert omitted.repeat_count == 0


def test_alertmanager_accepts_sender_quirks(post):
    _, token = make_integration("alertmanager")
    body = payload_json("alertmanager", "01_firing_single.json")
    body["alerts"][0]["startsAt"] = "2025-06-17T14:02:31.123456789+0000"
    body["alerts"][0]["endsAt"] = "0001-01-01T00:00:00Z"

    response = post("alertmanager", json.dumps(body), token=token)

    assert response.status_code == 202
    assert Alert.objects.get().starts_at == parse_timestamp("2025-06-17T14:02:31.123456Z")


def test_alertmanager_resolve_of_unknown_alert_accepted(post):
    _, token = make_integration("alertmanager")

    response = post("alertmanager", payload("alertmanager", "02_resolved_single.json"), token=token)

    assert response.status_code == 202
    assert not Alert.objects.exists()


def test_alertmanager_identity_from_labels_not_summary(post):
    _, token = make_integration("alertmanager")
    body = payload_json("alertmanager", "01_firing_single.json")
    first = body["alerts"][0]
    del first["fingerprint"]
    second = json.loads(json.dumps(first))
    second["labels"]["cluster"] = "prod-us-1"
    body["alerts"] = [first, second]

    post("alertmanager", json.dumps(body), token=token)

    assert Alert.objects.count() == 2
    assert len(set(Alert.objects.values_list("title", flat=True))) == 1


def test_alertmanager_malformed_names_field_paths(post):
    _, token = make_integration("alertmanager")
    body = payload_json("alertmanager", "01_firing_single.json")
    body["alerts"][0]["startsAt"] = "yesterday"
    body["alerts"][0]["status"] = "burning"

    response = post("alertmanager", json.dumps(body), token=token)

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert "alerts[0].startsAt" in errors
    assert "alerts[0].status" in errors
    assert not Alert.objects.exists()
    assert not Delivery.objects.exists()


def test_alertmanager_missing_alerts_rejected(post):
    integration, token = make_integration("alertmanager")

    response = post(
        "alertmanager", payload("alertmanager", "14_malformed_missing_alerts.json"), token=token
    )

    assert response.status_code == 400
    assert "alerts" in response.json()["errors"]
    rejected = RejectedDelivery.objects.get()
    assert rejected.integration == integration
    assert rejected.errors == response.json()["errors"]


def test_grafana_two_alerts_then_resolved(post):
    _, token = make_integration("grafana")
    post("grafana", payload("grafana", "01_firing_two_alerts.json"), token=token)

    post("grafana", payload("grafana", "02_resolved_both.json"), token=token)

    statuses = set(Alert.objects.values_list("status", flat=True))
    assert Alert.objects.count() == 2
    assert statuses == {AlertStatus.RESOLVED}
    link_texts = {link["text"] for link in Alert.objects.first().links}
    assert {"Dashboard", "Panel"} <= link_texts


def test_datadog_triggered_then_recovered(post):
    _, token = make_integration("datadog")
    post("datadog", payload("datadog", "01_triggered.json"), token=token)

    post("datadog", payload("datadog", "02_recovered.json"), token=token)

    alert = Alert.objects.get()
    assert alert.identity == "4471829:env:prod,service:checkout-api"
    assert alert.status == AlertStatus.RESOLVED
    assert alert.labels["team"] == "payments"


def test_datadog_unrendered_template_rejected(post):
    _, token = make_integration("datadog")

    response = post(
        "datadog", payload("datadog", "00_recommended_template_unrendered.json"), token=token
    )

    assert response.status_code == 400
    assert "alert_id" in response.json()["errors"]


def test_sentry_signed_event_alert_accepted(post):
    _, token = make_integration("sentry")
    headers = sentry_headers("01_event_alert_triggered.json")

    response = post(
        "sentry",
        payload("sentry", "01_event_alert_triggered.json"),
        path_token=token,
        **_meta_headers(headers),
    )

    assert response.status_code == 202
    alert = Alert.objects.get()
    assert alert.identity == "issue:4629183057"
    assert alert.severity.key == "SEV-2"
    assert alert.labels["team"] == "finance-platform"


def test_sentry_issue_repeats_event_alert(post):
    _, token = make_integration("sentry")
    for name in ("01_event_alert_triggered.json", "03_issue_created.json"):
        post(
            "sentry",
            payload("sentry", name),
            path_token=token,
            **_meta_headers(sentry_headers(name)),
        )

    assert Alert.objects.get().repeat_count == 1


def test_sentry_wrong_signature_rejected(post):
    _, token = make_integration("sentry")
    headers = sentry_headers("01_event_alert_triggered.json")
    headers["Sentry-Hook-Signature"] = "0" * 64

    response = post(
        "sentry",
        payload("sentry", "01_event_alert_triggered.json"),
        path_token=token,
        **_meta_headers(headers),
    )

    assert response.status_code == 401
    assert "Sentry-Hook-Signature" in response.json()["error"]
    assert not Delivery.objects.exists()


def test_events_v2_trigger_acknowledge_resolve(post):
    _, token = make_integration("events-v2")

    trigger = post("events-v2", payload("events-v2", "01_trigger.json"), token=token)
    post("events-v2", payload("events-v2", "03_acknowledge.json"), token=token)
    acknowledged = Alert.objects.get().status
    post("events-v2", payload("events-v2", "04_resolve.json"), token=token)

    assert trigger.json()["dedup_key"] == "ledger-db/replication-lag/prod-eu-2"
    assert acknowledged == AlertStatus.ACKNOWLEDGED
    assert Alert.objects.get().status == AlertStatus.RESOLVED
    assert Alert.objects.get().severity.key == "SEV-1"


def test_events_v2_routing_key_authenticates(post):
    make_integration("events-v2", token="0f1e2d3c4b5a69788796a5b4c3d2e1f0")

    response = post("events-v2", payload("events-v2", "01_trigger.json"))

    assert response.status_code == 202


def test_events_v2_missing_summary_and_source(post):
    _, token = make_integration("events-v2")

    response = post(
        "events-v2",
        payload("events-v2", "09_malformed_missing_summary_and_source.json"),
        token=token,
    )

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"payload.summary", "payload.source"}


def test_generic_firing_and_resolved(post):
    _, token = make_integration("generic")
    post("generic", payload("generic", "01_firing.json"), token=token)

    post("generic", payload("generic", "02_resolved.json"), token=token)

    alert = Alert.objects.get()
    assert alert.status == AlertStatus.RESOLVED
    assert alert.severity.key == "SEV-2"
    assert alert.links == [
        {"href": "https://jobs.example.com/invoice-run/2025-06-19", "text": "Job run"}
    ]


def test_generic_stale_resolve_keeps_open(post):
    _, token = make_integration("generic")
    post("generic", payload("generic", "01_firing.json"), token=token)
    stale = payload_json("generic", "02_resolved.json")
    stale["occurred_at"] = "2025-06-19T05:00:00Z"

    post("generic", json.dumps(stale), token=token)

    assert Alert.objects.get().status == AlertStatus.FIRING
    assert "older than its current firing" in Delivery.objects.latest("id").notes[0]


def test_generic_batch_validated_as_whole(post):
    _, token = make_integration("generic")
    good = payload_json("generic", "01_firing.json")
    bad = payload_json("generic", "06_malformed_missing_dedup_key.json")

    response = post("generic", json.dumps([good, bad]), token=token)

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["[1].dedup_key"]
    assert not Alert.objects.exists()


def test_generic_time_without_offset_rejected(post):
    _, token = make_integration("generic")
    body = payload_json("generic", "01_firing.json")
    body["occurred_at"] = "2025-06-19T06:00:07"

    response = post("generic", json.dumps(body), token=token)

    assert response.status_code == 400
    assert "UTC offset" in response.json()["errors"]["occurred_at"]


def test_cloudwatch_alarm_then_ok(post):
    _, token = make_integration("cloudwatch")
    post(
        "cloudwatch",
        payload("cloudwatch", "02_alarm.json"),
        path_token=token,
        content_type="text/plain; charset=UTF-8",
        HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification",
    )

    post(
        "cloudwatch",
        payload("cloudwatch", "03_ok.json"),
        path_token=token,
        content_type="text/plain; charset=UTF-8",
    )

    alert = Alert.objects.get()
    assert alert.status == AlertStatus.RESOLVED
    assert alert.labels["DBInstanceIdentifier"] == "checkout-db"
    assert alert.starts_at == parse_timestamp("2025-06-18T10:01:12.345Z")


@pytest.mark.parametrize(
    ("token", "reason"), [("", "Missing token"), ("wrong-token-value", "Invalid token")]
)
def test_bad_token_answers_401(post, token, reason):
    make_integration("alertmanager")

    response = post("alertmanager", payload("alertmanager", "01_firing_single.json"), token=token)

    assert response.status_code == 401
    assert response.json()["error"].startswith(reason)
    assert not Alert.objects.exists()
    assert RejectedDelivery.objects.get().status_code == 401


def test_token_of_other_kind_answers_401(post):
    _, token = make_integration("datadog")

    response = post("alertmanager", payload("alertmanager", "01_firing_single.json"), token=token)

    assert response.status_code == 401


def test_wrong_content_type_answers_415(post):
    _, token = make_integration("alertmanager")

    response = post(
        "alertmanager",
        payload("alertmanager", "01_firing_single.json"),
        token=token,
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 415
    assert "application/json" in response.json()["error"]
    assert not Delivery.objects.exists()


def test_oversized_body_answers_413(post):
    _, token = make_integration("generic", max_body_bytes=1024)
    body = payload_json("generic", "01_firing.json")
    body["description"] = "x" * 2000

    response = post("generic", json.dumps(body), token=token)

    assert response.status_code == 413
    assert "1024 bytes" in response.json()["error"]
    assert not Delivery.objects.exists()


def test_invalid_json_answers_400(post):
    _, token = make_integration("alertmanager")

    response = post("alertmanager", b'{"alerts": [', token=token)

    assert response.status_code == 400
    assert "not valid JSON" in response.json()["errors"]["body"]


def test_storm_limit_answers_503(post):
    _, token = make_integration("generic", storm_limit_per_minute=2)
    body = payload("generic", "01_firing.json")
    for _ in range(2):
        post("generic", body, token=token)

    response = post("generic", body, token=token)

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert Alert.objects.get().repeat_count == 1


def test_unknown_kind_answers_json_404(post):
    response = post("nagios", b"{}", token="x")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


def test_get_answers_json_405(client):
    response = client.get("/webhooks/alertmanager/")

    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"


def test_unexpected_error_answers_503(post, monkeypatch):
    _, token = make_integration("alertmanager")

    def fail(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("alerts.services.delivery_store", fail)
    response = post("alertmanager", payload("alertmanager", "01_firing_single.json"), token=token)

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response["Content-Type"] == "application/json"


def test_post_answers_before_processing(client):
    _, token = make_integration("alertmanager")

    response = client.post(
        "/webhooks/alertmanager/",
        data=payload("alertmanager", "01_firing_single.json"),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )

    assert response.status_code == 202
    assert Delivery.objects.get().status == Delivery.Status.PENDING
    assert not Alert.objects.exists()


def test_post_queues_processing_task(client, django_capture_on_commit_callbacks):
    _, token = make_integration("alertmanager")
    with celery_app.connection_for_write() as connection:
        connection.default_channel.queue_purge("celery")

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/webhooks/alertmanager/",
            data=payload("alertmanager", "01_firing_single.json"),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )

    with celery_app.connection_for_read() as connection:
        message = connection.SimpleQueue("celery").get(timeout=1)
    assert message.headers["task"] == "alerts.delivery_batch_process_task"
    assert message.headers["argsrepr"] == f"({Delivery.objects.get().integration_id},)"


def test_processing_failure_leaves_delivery_pending(client, monkeypatch):
    _, token = make_integration("alertmanager")
    client.post(
        "/webhooks/alertmanager/",
        data=payload("alertmanager", "01_firing_single.json"),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )

    def fail(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("alerts.services._alert_apply", fail)
    with pytest.raises(RuntimeError):
        delivery_process_task(Delivery.objects.get().pk)

    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.PENDING
    assert delivery.attempts == 1
    assert "boom" in delivery.error


def test_credentials_not_stored(post):
    _, token = make_integration("alertmanager")

    post("alertmanager", payload("alertmanager", "01_firing_single.json"), token=token)

    assert "authorization" not in Delivery.objects.get().headers


def _post_firing(client, path="/webhooks/alertmanager/", *, token="", body=None):
    """Post Alertmanager's single firing sample (or `body`) with the Django test client."""
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    if body is None:
        body = payload("alertmanager", "01_firing_single.json")
    return client.post(path, data=body, content_type="application/json", **headers)


def test_post_response_has_content_length(client):
    _, token = make_integration("alertmanager")

    response = _post_firing(client, token=token)

    assert response["Content-Length"] == str(len(response.content))


def test_post_skips_middleware_for_people(client):
    _, token = make_integration("alertmanager")

    response = _post_firing(client, token=token)

    assert not hasattr(response.wsgi_request, "user")
    assert "X-Frame-Options" not in response


def test_unknown_webhook_path_gets_json_404(client):
    response = client.post("/webhooks/", data=b"{}", content_type="application/json")

    assert response.status_code == 404
    assert "post to /webhooks/<kind>/" in response.json()["error"]


def test_post_without_trailing_slash_accepted(client):
    _, token = make_integration("alertmanager")

    response = _post_firing(client, "/webhooks/alertmanager", token=token)

    assert response.status_code == 202


def test_post_path_token_without_trailing_slash_accepted(client):
    _, token = make_integration("alertmanager")

    response = _post_firing(client, f"/webhooks/alertmanager/{token}")

    assert response.status_code == 202


def test_other_paths_get_whole_stack(client):
    response = client.get("/alerts/")

    assert response["X-Frame-Options"] == "DENY"


def test_empty_body_names_fix(client):
    _, token = make_integration("alertmanager")

    response = _post_firing(client, token=token, body=b" ")

    assert response.status_code == 400
    assert response.json()["errors"]["body"].startswith("is empty")
