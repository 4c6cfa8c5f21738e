"""Fixtures shared across test areas live in tests/fixtures/, one module per resource."""

pytest_plugins = [
    "tests.fixtures.callbacks",
    "tests.fixtures.cluster",
    "tests.fixtures.db",
    "tests.fixtures.redis_server",
    "tests.fixtures.sandbox",
]
