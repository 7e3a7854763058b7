"""Tests built on pytest-invenio's fixtures (run on their own, see conftest.py)."""
