"""Reusable widgets of the operations UI: each renders one kind of fact."""
