"""Every string of the steering group's monthly report, in Danish and English.

Why this exists: the steering group works in Danish and the report must be
readable in English too, so no renderer holds a word of its own: each looks
its headings, labels and sentences up here by key (``{name}`` placeholders
filled with :meth:`str.format`).  A test checks that both languages have the
same keys and the same placeholders.

Deliberately not here: numbers and their formatting (one format in every
language, :func:`policies.rating.money`, so the report's figures read exactly
as the CLI prints them), and the questionnaire's own texts (they are in
``policies/evaluation.yaml`` in both languages).
"""

from __future__ import annotations

LANGUAGES = ("da", "en")

MESSAGES: dict[str, dict[str, str]] = {
    "da": {
        "title": "Styregruppens månedsrapport: NGC's cloud-pilot, {month}",
        "generated": "Dannet {at} (UTC) af ngc-pilot.",
        "toc": "Indhold",
        "yes": "ja",
        "no": "nej",
        "none": "ingen",
        "dash": "–",
        # selection
        "selection": "Udvælgelsen og hvorfor",
        "decision": "Beslutning #{id} truffet {at} af {by}: {reason}",
        "decision_facts": "Politik (sha256) {digest}; {k_min}–{k_max} piloter; optimal: {optimal}; mål {objective}",
        "no_decision": "Der er endnu ikke truffet nogen udvælgelsesbeslutning.",
        "selected": "Udvalgte piloter: {ids}",
        "coverage": "Dækning af heterogenitetsdimensionerne",
        "coverage_dimension": "Dimension",
        "coverage_covered": "Dækket",
        "coverage_missing": "Ikke dækket",
        "coverage_unknown": "Dækningen kan ikke beregnes for {count} ansøgning(er) uden gyldigt nomineringsdokument.",
        "coverage_none": "Ingen dimensioner at vise.",
        # pilots
        "pilots": "Piloterne",
        "col_pilot": "Pilot",
        "col_project": "Projekt",
        "col_state": "Tilstand",
        "col_tenant": "Tenant",
        "col_dates": "Periode",
        "col_milestones": "Milepæle",
        "col_data_access": "Dataadgang",
        "col_dpa": "Databehandleraftale",
        "no_tenant": "ingen tenant",
        "no_pilots": "Ingen piloter.",
        "change_requests_missing": "Ventende ændringsanmodninger: ngc-pilot registrerer endnu ikke ændringsanmodninger, så de kan ikke vises her.",
        "milestone_tenant_active": "tenant aktiv",
        "milestone_first_server": "første server",
        "milestone_first_metered_use": "første målte forbrug",
        "milestone_data_access_granted": "dataadgang givet",
        "dpa_signed": "underskrevet",
        "dpa_in_progress": "under forhandling",
        "dpa_none": "ingen",
        "state_selected": "udvalgt",
        "state_withdrawn": "trukket tilbage",
        "state_planned": "planlagt",
        "state_provisioning": "oprettes",
        "state_active": "aktiv",
        "state_failed": "fejlet",
        "state_suspended": "suspenderet",
        "state_torn_down": "nedlagt",
        # usage and cost
        "usage": "Forbrug og skyggepris pr. pilot",
        "col_metric": "Måling",
        "col_quantity": "Mængde",
        "col_unit": "Enhed",
        "no_usage": "Intet målt forbrug i {month}.",
        "costs": "Skyggefakturaer ({currency})",
        "col_list": "Listepris",
        "col_discount": "Rabat",
        "col_charged": "Opkrævet",
        "col_revision": "Revision",
        "total": "I alt",
        "no_invoices": "Måneden er ikke prissat endnu (ingen skyggefakturaer); kør `ngc-pilot invoice --month {month}`.",
        "payment_model": "Betalingsmodellen afprøvet",
        "payment_model_intro": "Samme forbrug prissat efter hver kandidat-prisliste i policies/, side om side (intet gemmes).",
        "col_candidate": "Prisliste",
        "candidate_problem": "Prislisten {source} kan ikke læses: {problem}",
        # capacity
        "capacity": "Kapacitet i måneden",
        "capacity_legend": "Kapacitet, tildelt (tenanternes kvoter) og brugt, pr. ressourceklasse.",
        "series_capacity": "kapacitet",
        "series_allocated": "tildelt",
        "series_used": "brugt",
        "no_capacity": "Ingen kapacitetsmålinger i {month} (capacity-jobbet har ikke kørt).",
        # evaluation
        "evaluation": "Evaluering pr. område",
        "evaluation_intro": "Spørgeskema version {version}: {responses} besvarelse(r) i alt.",
        "area_responses": "{area}: {responses} besvarelse(r)",
        "col_question": "Spørgsmål",
        "col_responses": "Svar",
        "col_mean": "Gennemsnit",
        "free_text": "Fritekst",
        "no_comments": "Ingen kommentarer.",
        "evaluation_problem": "Spørgeskemaet kan ikke læses: {problem}",
        # support
        "support": "Support pr. område",
        "col_area": "Område",
        "col_opened": "Oprettet",
        "col_open": "Åbne",
        "col_response_median": "Svartid, median (t)",
        "col_resolution_median": "Løsningstid, median (t)",
        # risks
        "risks": "Risici",
        "risk_expiring": "{pilot}: udløber {date} (inden for 30 dage)",
        "risk_low_use": "{pilot}: bruger {percent} % af sin {resource}-kvote (under 10 %)",
        "risk_dpa": "{pilot}: venter på en databehandleraftale ({state})",
        "no_risks": "Ingen risici fundet.",
        "resource_cores": "vCPU",
        "resource_ram": "RAM",
        "area_infrastructure": "IT-infrastrukturen",
        "area_operations": "Drift og support",
        "area_application": "Ansøgningsprocessen",
        "area_payment": "Betalingsmodel og aftalegrundlag",
        "area_governance": "Governance",
    },
    "en": {
        "title": "Steering group monthly report: NGC's cloud pilot, {month}",
        "generated": "Generated {at} (UTC) by ngc-pilot.",
        "toc": "Contents",
        "yes": "yes",
        "no": "no",
        "none": "none",
        "dash": "–",
        "selection": "The selection and why",
        "decision": "Decision #{id} made {at} by {by}: {reason}",
        "decision_facts": "Policy (sha256) {digest}; {k_min}–{k_max} pilots; optimal: {optimal}; objective {objective}",
        "no_decision": "No selection decision has been made yet.",
        "selected": "Selected pilots: {ids}",
        "coverage": "Coverage of the heterogeneity dimensions",
        "coverage_dimension": "Dimension",
        "coverage_covered": "Covered",
        "coverage_missing": "Not covered",
        "coverage_unknown": "Coverage cannot be computed for {count} application(s) without a valid nomination document.",
        "coverage_none": "No dimensions to show.",
        "pilots": "The pilots",
        "col_pilot": "Pilot",
        "col_project": "Project",
        "col_state": "State",
        "col_tenant": "Tenant",
        "col_dates": "Period",
        "col_milestones": "Milestones",
        "col_data_access": "Data access",
        "col_dpa": "Data processing agreement",
        "no_tenant": "no tenant",
        "no_pilots": "No pilots.",
        "change_requests_missing": "Pending change requests: ngc-pilot does not record change requests yet, so none can be shown here.",
        "milestone_tenant_active": "tenant active",
        "milestone_first_server": "first server",
        "milestone_first_metered_use": "first metered use",
        "milestone_data_access_granted": "data access granted",
        "dpa_signed": "signed",
        "dpa_in_progress": "in progress",
        "dpa_none": "none",
        "state_selected": "selected",
        "state_withdrawn": "withdrawn",
        "state_planned": "planned",
        "state_provisioning": "provisioning",
        "state_active": "active",
        "state_failed": "failed",
        "state_suspended": "suspended",
        "state_torn_down": "torn down",
        "usage": "Usage and shadow cost per pilot",
        "col_metric": "Metric",
        "col_quantity": "Quantity",
        "col_unit": "Unit",
        "no_usage": "No metered usage in {month}.",
        "costs": "Shadow invoices ({currency})",
        "col_list": "List price",
        "col_discount": "Discount",
        "col_charged": "Charged",
        "col_revision": "Revision",
        "total": "Total",
        "no_invoices": "The month is not rated yet (no shadow invoices); run `ngc-pilot invoice --month {month}`.",
        "payment_model": "The payment-model test",
        "payment_model_intro": "The same usage priced under every candidate price list in policies/, side by side (nothing is stored).",
        "col_candidate": "Price list",
        "candidate_problem": "The price list {source} cannot be read: {problem}",
        "capacity": "Capacity over the month",
        "capacity_legend": "Capacity, allocated (the tenants' quotas) and used, per resource class.",
        "series_capacity": "capacity",
        "series_allocated": "allocated",
        "series_used": "used",
        "no_capacity": "No capacity snapshots in {month} (the capacity job has not run).",
        "evaluation": "Evaluation per area",
        "evaluation_intro": "Questionnaire version {version}: {responses} response(s) in all.",
        "area_responses": "{area}: {responses} response(s)",
        "col_question": "Question",
        "col_responses": "Answers",
        "col_mean": "Mean",
        "free_text": "Free text",
        "no_comments": "No comments.",
        "evaluation_problem": "The questionnaire cannot be read: {problem}",
        "support": "Support per area",
        "col_area": "Area",
        "col_opened": "Opened",
        "col_open": "Open",
        "col_response_median": "Response, median (h)",
        "col_resolution_median": "Resolution, median (h)",
        "risks": "Risks",
        "risk_expiring": "{pilot}: expires {date} (within 30 days)",
        "risk_low_use": "{pilot}: uses {percent} % of its {resource} quota (under 10 %)",
        "risk_dpa": "{pilot}: waiting for a data processing agreement ({state})",
        "no_risks": "No risks found.",
        "resource_cores": "vCPU",
        "resource_ram": "RAM",
        "area_infrastructure": "The IT infrastructure",
        "area_operations": "Operations and support",
        "area_application": "The application process",
        "area_payment": "Payment model and agreement basis",
        "area_governance": "Governance",
    },
}


class Messages:
    """One language's catalogue: ``m("key", name=value)`` or ``m["key"]``."""

    def __init__(self, language: str) -> None:
        if language not in MESSAGES:
            raise ValueError(f"unknown language {language!r}; allowed: {', '.join(LANGUAGES)}")
        self.language = language
        self._table = MESSAGES[language]

    def __getitem__(self, key: str) -> str:
        return self._table[key]

    def __call__(self, key: str, **values: object) -> str:
        return self._table[key].format(**values)

    def get(self, key: str, default: str) -> str:
        return self._table.get(key, default)
