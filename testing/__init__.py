"""Helpers the test tiers share (pre-commit's `testing/` package): harnesses, stand-in servers and
load clients. Importable because pytest puts the repository root on sys.path (pyproject's
`pythonpath`); nothing here is a test, and nothing in the product imports it."""
