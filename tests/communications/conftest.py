import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def status_page_cache_cleared():
    """Start and end each test with an empty cache, because the status page caches its data."""
    cache.clear()
    yield
    cache.clear()
