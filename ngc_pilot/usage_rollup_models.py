"""The daily and monthly usage rollup tables (SQLModel; Alembic 0011 and 0016).

``UsageDay`` holds, per (tenant, metric, UTC day of the window's start), the
sum of the ``usage_record`` quantities in micro-units (the records' six
decimal places as an integer, so the sum is exact on SQLite too).  Database
triggers on ``usage_record`` keep it in the same transaction as every write
(insert, metering's upserts, update, delete, truncate), like ``usage_total``:
a re-metered window replaces its old quantity in the day's sum instead of
adding to it.  Rating reads days, not hours (``usage_aggregation``), because
every price and discount boundary falls on a date.  ``UsageMonth`` is the
same per calendar month (0016), read for a month that no boundary cuts.

A module of its own so that ``models.py`` stays small; ``models.py`` imports
it.  Deliberately no logic here and never written by the application: the
triggers and the migration's backfill are the only writers.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Column, Date, Index, Integer
from sqlmodel import Field, SQLModel


class UsageDay(SQLModel, table=True):
    __tablename__ = "usage_day"
    __table_args__ = (Index("ix_usage_day_day", "day"),)

    pilot_id: str = Field(primary_key=True, max_length=64)
    metric: str = Field(primary_key=True, max_length=32)
    day: date = Field(sa_column=Column(Date, primary_key=True))
    # Sum of quantity x 1,000,000 (exact: the records have six decimal places).
    quantity_micro: int = Field(sa_column=Column(BigInteger, nullable=False))
    # How many records the sum covers; 0 once they were all deleted (ignored).
    records: int = Field(sa_column=Column(Integer, nullable=False))


class UsageMonth(SQLModel, table=True):
    """``UsageDay`` summed per UTC calendar month (``month`` is its first day)."""

    __tablename__ = "usage_month"
    __table_args__ = (Index("ix_usage_month_month", "month"),)

    pilot_id: str = Field(primary_key=True, max_length=64)
    metric: str = Field(primary_key=True, max_length=32)
    month: date = Field(sa_column=Column(Date, primary_key=True))
    quantity_micro: int = Field(sa_column=Column(BigInteger, nullable=False))
    records: int = Field(sa_column=Column(Integer, nullable=False))
