"""Alembic migrations of the ngc-pilot database (run with ``ngc-pilot db upgrade``)."""
