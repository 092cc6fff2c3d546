import pytest


@pytest.fixture
def post(client):
    """Post a body to a webhook endpoint with a bearer token, as a sender does."""

    def send(kind, body, *, token="", content_type="application/json", path_token="", **headers):
        url = f"/webhooks/{kind}/" + (f"{path_token}/" if path_token else "")
        if token:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return client.post(url, data=body, content_type=content_type, **headers)

    return send
