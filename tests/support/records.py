"""Builders of valid nomination records for tests (override what a test is about)."""

from __future__ import annotations

import copy
from typing import Any

BASE: dict[str, Any] = {
    "id": "T-001",
    "name": "Test project",
    "principal_investigator": {"name": "Ada Jensen", "email": "ada@example.org"},
    "institution": "Rigshospitalet",
    "institution_type": "hospital_department",
    "nominated_by": "Region Hovedstaden",
    "pitch": "A short pitch.",
    "data": {"volume": "10 TB", "types": ["wgs"], "sources": ["hospital"], "subjects": 100},
    "resources": {"vcpus": 64, "ram_gb": 256, "gpus": 0, "storage_tb": 10},
    "task_types": ["batch_pipeline"],
    "access_months": 4,
    "maturity": 3,
    "ready_date": "2021-04-15",
    "commits_to_evaluation": True,
    "eligibility": {
        "personalised_medicine": True,
        "societal_interest": True,
        "data_processing_agreement": "signed",
    },
}


def record(**overrides: Any) -> dict[str, Any]:
    """A valid record; ``overrides`` use ``__`` for nesting (``data__volume="1 PB"``)."""
    out = copy.deepcopy(BASE)
    for key, value in overrides.items():
        parts = key.split("__")
        cursor = out
        for part in parts[:-1]:
            cursor = cursor[part]
        if value is _DELETE:
            del cursor[parts[-1]]
        else:
            cursor[parts[-1]] = value
    return out


_DELETE = object()
DELETE = _DELETE
