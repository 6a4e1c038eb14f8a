"""Test helpers.

- `enact.testing.cassettes`: record a test's external calls once, replay them
  offline (``enact.cassette``); `enact.testing.pytest_plugin` is its pytest
  plugin (the ``enact_store`` fixture, ``--enact-record``), installed with the package.
- `enact.testing.conformance` (needs pytest): the suite every storage backend
  must pass, ``from enact.testing.conformance import BackendConformance``.
"""
