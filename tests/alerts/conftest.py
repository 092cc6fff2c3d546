import pytest

from alerts.tasks import delivery_process_task


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    """Post a body to a webhook endpoint with a bearer token, as a sender does.

    An accepted delivery is then processed by running its task, as the Celery worker does after
    the request commits; tests that check only the response post with `client` instead.
    """

    def send(kind, body, *, token="", content_type="application/json", path_token="", **headers):
        url = f"/webhooks/{kind}/" + (f"{path_token}/" if path_token else "")
        if token:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        with django_capture_on_commit_callbacks() as queued:
            response = client.post(url, data=body, content_type=content_type, **headers)
        if response.status_code == 202:
            assert len(queued) == 1, "an accepted delivery queues one processing task"
            delivery_process_task(response.json()["delivery_id"])
        return response

    return send
