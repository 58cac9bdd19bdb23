"""Test-only helpers; not part of the shipped package."""
