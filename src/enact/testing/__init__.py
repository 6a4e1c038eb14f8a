"""Test helpers for people who write their own storage backends (needs pytest).

``from enact.testing.conformance import BackendConformance``: see that module.
"""
