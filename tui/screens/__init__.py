"""The top-level screens, in the order of their keys (1..9) and of the screen bar."""

from __future__ import annotations

from tui.screens.applications import ApplicationsScreen
from tui.screens.audit import AuditScreen
from tui.screens.capacity import CapacityScreen
from tui.screens.jobs import JobsScreen
from tui.screens.reports import ReportsScreen
from tui.screens.requests import RequestsScreen
from tui.screens.selection import SelectionScreen
from tui.screens.tenants import TenantsScreen
from tui.screens.usage import UsageScreen

SCREENS = (
    ApplicationsScreen,
    SelectionScreen,
    TenantsScreen,
    UsageScreen,
    CapacityScreen,
    JobsScreen,
    AuditScreen,
    ReportsScreen,
    RequestsScreen,
)
