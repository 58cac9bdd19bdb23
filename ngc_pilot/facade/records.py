"""The pilots' records for every interface: evaluation responses, the support log, milestones.

Each method is one transaction over :mod:`ngc_pilot.evaluation`,
:mod:`ngc_pilot.evaluation_results`, :mod:`ngc_pilot.support_log` and
:mod:`ngc_pilot.milestones`, and returns plain rows (dicts) or the import
report, so nothing lazy-loads on an interface's thread.  Times and months
arrive as the text a person typed and are parsed here, with problems about
the domain's fields (``opened_at``, ``month``).  It deliberately holds no
rule of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ngc_pilot import evaluation, evaluation_results, milestones, support_log
from ngc_pilot.db import session_scope, utcnow
from ngc_pilot.facade.base import FacadeBase
from ngc_pilot.intake import ImportReport
from policies.evaluation import Questionnaire


def _time(text: str | None, field: str) -> Any:
    return None if text is None else support_log.parse_time(text, field)


class RecordsArea(FacadeBase):
    # ------------------------------------------------------------ evaluation

    def import_responses(self, paths: Sequence[Path], questionnaire: Questionnaire) -> ImportReport:
        """Validate and store the files' evaluation responses: all or nothing."""
        with session_scope(self.engine) as session:
            return evaluation.import_files(session, list(paths), questionnaire, actor=self.actor)

    def evaluation_summary(
        self, questionnaire: Questionnaire, pilot_id: str | None = None
    ) -> dict[str, Any]:
        with session_scope(self.engine) as session:
            return evaluation_results.summary(session, questionnaire, pilot_id)

    def evaluation_answers(self, questionnaire: Questionnaire, pilot_id: str) -> dict[str, Any]:
        with session_scope(self.engine) as session:
            return evaluation_results.pilot_answers(session, questionnaire, pilot_id)

    # ----------------------------------------------------------- support log

    def open_support_item(
        self, pilot_id: str, area: str, summary: str, *, opened_at: str | None = None
    ) -> dict[str, Any]:
        when = _time(opened_at, "opened_at")
        with session_scope(self.engine) as session:
            item = support_log.open_item(
                session, pilot_id, area, summary, actor=self.actor, opened_at=when
            )
            return support_log.as_dict(item)

    def respond_support_item(self, item_id: int, *, at: str | None = None) -> dict[str, Any]:
        when = _time(at, "responded_at")
        with session_scope(self.engine) as session:
            return support_log.as_dict(
                support_log.respond(session, item_id, actor=self.actor, at=when)
            )

    def close_support_item(
        self, item_id: int, resolution: str, *, at: str | None = None
    ) -> dict[str, Any]:
        when = _time(at, "closed_at")
        with session_scope(self.engine) as session:
            item = support_log.close(session, item_id, resolution, actor=self.actor, at=when)
            return support_log.as_dict(item)

    def support_items(self, *, open_only: bool = False) -> list[dict[str, Any]]:
        with session_scope(self.engine) as session:
            return [support_log.as_dict(i) for i in support_log.items(session, open_only=open_only)]

    def support_stats(self, month: str | None = None) -> dict[str, Any]:
        chosen = None if month is None else support_log.parse_month(month)
        with session_scope(self.engine) as session:
            return support_log.stats(session, chosen)

    # ------------------------------------------------------------ milestones

    def milestones(self, pilot_id: str | None = None) -> list[dict[str, Any]]:
        """Record new evidence first (once per milestone, audited), then list them."""
        with session_scope(self.engine) as session:
            milestones.record_milestones(session, utcnow(), actor=self.actor)
            return [milestones.as_dict(m) for m in milestones.milestones(session, pilot_id)]
