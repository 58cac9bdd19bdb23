"""Intake: read nomination files, validate every record, store them, audit it.

Files are YAML, JSON (same structure: ``{"applications": [...]}``) or CSV
(nested keys flattened as ``data.volume``, lists separated by ``;``).  Every
problem in every file is collected before anything is written; one bad
record refuses the whole import (exit code 2) and the database is untouched.
Re-importing a record with the same id updates it (a new revision, audited);
it never creates a duplicate.  Ids are compared folded (:func:`id_key`), in the
files and against the database, so ``ACC-1`` and ``acc-1`` are refused as one
id given twice rather than becoming two tenants with one cloud project name.
Files are read defensively by :mod:`ngc_pilot.nomination_files`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, select

from ngc_pilot import audit
from ngc_pilot.db import utcnow
from ngc_pilot.errors import InputError
from ngc_pilot.models import Application
from ngc_pilot.nomination_files import read_file
from policies.nomination import Nomination, id_key
from policies.problems import Problem, problems_from_validation
from policies.selection_policy import SelectionPolicy


@dataclass(frozen=True)
class SourcedNomination:
    nomination: Nomination
    source: str  # "file:line" of the record


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[str]]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


def validate_files(
    paths: Sequence[Path], policy: SelectionPolicy
) -> tuple[list[SourcedNomination], list[Problem]]:
    """Validate every record in every file; return the good ones and every problem."""
    good: list[SourcedNomination] = []
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    context = {"vocabularies": policy.vocabularies}
    for path in paths:
        records, index, file_problems = read_file(path)
        problems.extend(file_problems)
        for i, (raw, record, line) in enumerate(records):
            where = f"{path}:{line}" if line else f"{path} {record}"
            if not isinstance(raw, dict):
                problems.append(
                    Problem(
                        str(path),
                        "(record)",
                        raw,
                        "expected a mapping of fields",
                        line=line,
                        record=record,
                    )
                )
                continue
            raw_id = raw.get("id")
            key = id_key(str(raw_id)) if isinstance(raw_id, str | int) else None
            if key is not None and key in seen:
                problems.append(
                    Problem(
                        str(path),
                        "id",
                        raw_id,
                        f"duplicate id (case and surrounding space ignored); "
                        f"first given at {seen[key]}",
                        line=line,
                        record=record,
                    )
                )
                continue
            if key is not None:
                seen[key] = where
            try:
                nomination = Nomination.model_validate(raw, context=context)
            except ValidationError as exc:
                base = ("applications", i)
                problems.extend(
                    problems_from_validation(
                        exc,
                        source=str(path),
                        base_path=base,
                        line_of=(index.line_of if index else (lambda _p, line=line: line)),
                        record=record,
                    )
                )
                continue
            good.append(SourcedNomination(nomination, where))
    return good, problems


# ----------------------------------------------------------------------- storing


def _columns(nomination: Nomination) -> dict[str, Any]:
    return {
        "name": nomination.name,
        "pi_name": nomination.principal_investigator.name,
        "pi_email": nomination.principal_investigator.email,
        "institution": nomination.institution,
        "institution_type": nomination.institution_type,
        "nominated_by": nomination.nominated_by,
        "data_volume_bytes": nomination.data.volume_bytes,
        "maturity": nomination.maturity,
        "ready_date": nomination.ready_date,
        "commits_to_evaluation": nomination.commits_to_evaluation,
        "data_processing_agreement": nomination.eligibility.data_processing_agreement,
        "document": _document(nomination),
    }


def _document(nomination: Nomination) -> dict[str, Any]:
    """The nomination as stored; without ``members`` when it lists none (as before members)
    and without the PI's ``language`` when none is given (Danish)."""
    document = nomination.model_dump(mode="json")
    if document.get("members") is None:
        document.pop("members", None)
    pi = document.get("principal_investigator")
    if isinstance(pi, dict) and pi.get("language") is None:
        pi.pop("language", None)  # Danish, as before the PI had a language
    return document


def _changed_fields(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    changed = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            changed.extend(_changed_fields(a, b, f"{prefix}{key}."))
        elif a != b:
            changed.append(f"{prefix}{key}")
    return changed


def store(
    session: Session, nominations: Sequence[SourcedNomination], *, actor: str, files: Sequence[str]
) -> ImportReport:
    """Insert or update applications and audit each change (one transaction, the caller's).

    Refuses (:class:`InputError`, nothing written) a nomination whose id folds to a
    stored one's without being it, whichever interface hands it in.
    """
    clashes = _clashes_with_stored(session, nominations)
    if clashes:
        raise InputError(clashes)
    report = ImportReport()
    for item in nominations:
        nomination = item.nomination
        columns = _columns(nomination)
        existing = session.get(Application, nomination.id)
        if existing is None:
            session.add(Application(id=nomination.id, source=item.source, **columns))
            audit.record(
                session,
                actor=actor,
                action="application.created",
                subject=nomination.id,
                details={"source": item.source, "name": nomination.name},
            )
            report.created.append(nomination.id)
            continue
        changed = _changed_fields(existing.document, columns["document"])
        if not changed:
            report.unchanged.append(nomination.id)
            continue
        for key, value in columns.items():
            setattr(existing, key, value)
        existing.source = item.source
        existing.revision += 1
        existing.updated_at = utcnow()
        session.add(existing)
        audit.record(
            session,
            actor=actor,
            action="application.updated",
            subject=nomination.id,
            details={"source": item.source, "changed": changed, "revision": existing.revision},
        )
        report.updated.append(nomination.id)
    audit.record(
        session,
        actor=actor,
        action="intake.import",
        subject=", ".join(files)[:200],
        details=report.as_dict(),
    )
    session.flush()
    return report


def _clashes_with_stored(
    session: Session, nominations: Sequence[SourcedNomination]
) -> list[Problem]:
    """Nominations whose id folds to a stored application's id without being it."""
    stored = {
        id_key(app_id): (app_id, source)
        for app_id, source in session.exec(select(Application.id, Application.source)).all()
    }
    problems = []
    for item in nominations:
        app_id = item.nomination.id
        match = stored.get(id_key(app_id))
        if match is not None and match[0] != app_id:
            problems.append(
                Problem(
                    item.source,
                    "id",
                    app_id,
                    f"the same id as the stored nomination {match[0]!r} (from {match[1]}) "
                    "when case and surrounding space are ignored; use that exact id to update it",
                )
            )
    return problems


def import_files(
    session: Session, paths: Sequence[Path], policy: SelectionPolicy, *, actor: str
) -> ImportReport:
    """Validate all files, then store; raises :class:`InputError` (nothing written) on any problem."""
    nominations, problems = validate_files(paths, policy)
    problems.extend(_clashes_with_stored(session, nominations))
    if problems:
        raise InputError(problems)
    if not nominations:
        raise InputError(
            [Problem(", ".join(map(str, paths)), "applications", [], "no nominations found")]
        )
    return store(session, nominations, actor=actor, files=[str(p) for p in paths])
