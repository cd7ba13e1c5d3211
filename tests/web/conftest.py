"""The API's small world (tests/api/conftest.py), for the web layer seen through the API."""

from tests.api.conftest import world  # noqa: F401  (a fixture, found by pytest under this name)
