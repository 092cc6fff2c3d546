import pytest

from .factories import contact_holders_set, on_call_people


@pytest.fixture
def people(db):
    return on_call_people()


@pytest.fixture
def on_call(people, monkeypatch):
    """Put the people on call for their layers and in their escalation roles."""
    calls = []

    def layer_on_call_get(*, layer, at, severity=None):
        calls.append((layer, at, severity))
        return people[layer]

    monkeypatch.setattr("oncall.selectors.layer_on_call_get", layer_on_call_get)
    contact_holders_set(people)
    return calls
