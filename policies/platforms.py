"""Which platforms a pilot gets — ``openstack``, ``kubernetes`` or both — from its task types (pure).

Rules live in the tenancy policy (``tenant_sizes.yaml``, ``platforms:``): each
task type names the platforms it needs; a pilot gets the union over its task
types, or the ``default`` when none of its task types is listed.  An operator
may override the choice with one platform.  The answer is always in the
canonical order (``openstack`` first), so it compares and prints stably.

What this module deliberately does not do: provision anything, or know the
task-type vocabulary (the selection policy owns it; an unlisted task type just
contributes nothing).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

Platform = Literal["openstack", "kubernetes"]
PLATFORMS: tuple[str, ...] = ("openstack", "kubernetes")


class PlatformRules(BaseModel):
    """Task type -> platforms; ``default`` for a pilot none of whose task types is listed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default: tuple[Platform, ...] = ("openstack",)
    by_task_type: dict[str, tuple[Platform, ...]] = {
        # workflow engines run as VMs and as containers
        "batch_pipeline": ("openstack", "kubernetes"),
        "interactive_analysis": ("kubernetes",),  # notebooks
        "web_application": ("kubernetes",),  # small services
        "gpu_machine_learning": ("openstack",),
        "database_service": ("openstack",),
        "federated_analysis": ("openstack",),
    }

    @field_validator("default")
    @classmethod
    def _some(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("the default names at least one platform")
        return value


def check_platform(value: str) -> str:
    """``value`` if it is a platform; else ValueError naming it and what is allowed."""
    if value not in PLATFORMS:
        raise ValueError(f"unknown platform {value!r}; allowed: {', '.join(PLATFORMS)}")
    return value


def choose_platforms(
    rules: PlatformRules, task_types: Iterable[str], override: str | None = None
) -> tuple[str, ...]:
    """The platforms a pilot with ``task_types`` gets (``override``: exactly that one)."""
    if override is not None:
        return (check_platform(override),)
    wanted: set[str] = set()
    for task_type in task_types:
        wanted.update(rules.by_task_type.get(task_type, ()))
    if not wanted:
        wanted.update(rules.default)
    return tuple(p for p in PLATFORMS if p in wanted)
