"""Generated nominations for benchmarks and load tests, never for the demo.

Deterministic for a given seed, drawn from the policy's vocabularies so every
record validates.  Real-looking but obviously synthetic ids (``GEN-000042``).
"""

from __future__ import annotations

import random
from datetime import timedelta

from policies.nomination import Nomination
from policies.portfolio import SelectionInstance, make_candidate, make_instance
from policies.scoring import score
from policies.selection_policy import SelectionPolicy

INSTITUTIONS = [
    ("Rigshospitalet", "hospital_department", "Region Hovedstaden"),
    ("Herlev Hospital", "hospital_department", "Region Hovedstaden"),
    ("Aarhus Universitetshospital", "hospital_department", "Region Midtjylland"),
    ("Odense Universitetshospital", "hospital_department", "Region Syddanmark"),
    ("Aalborg Universitetshospital", "hospital_department", "Region Nordjylland"),
    ("Sjællands Universitetshospital", "hospital_department", "Region Sjælland"),
    ("Københavns Universitet", "university", "Københavns Universitet"),
    ("Aarhus Universitet", "university", "Aarhus Universitet"),
    ("Syddansk Universitet", "university", "Syddansk Universitet"),
    ("Aalborg Universitet", "university", "Aalborg Universitet"),
    ("Danmarks Tekniske Universitet", "university", "Danmarks Tekniske Universitet"),
    ("Statens Serum Institut", "research_institute", "Region Hovedstaden"),
    ("Region Midtjylland", "region", "Region Midtjylland"),
    ("Region Syddanmark", "region", "Region Syddanmark"),
    ("Novo Nordisk Foundation Center partnership", "company_partnership", "Københavns Universitet"),
]


def nominations(count: int, policy: SelectionPolicy, seed: int = 2021) -> list[Nomination]:
    """``count`` valid, varied nominations."""
    rng = random.Random(seed)
    vocab = policy.vocabularies
    data_types = list(vocab.data_types)
    sources = list(vocab.data_sources)
    tasks = list(vocab.task_types)
    start = policy.pilot_period.start
    span = (policy.pilot_period.end - start).days
    out = []
    for n in range(count):
        institution, kind, nominator = rng.choice(INSTITUTIONS)
        gpus = rng.choice([0] * 8 + [1, 2, 4])
        vcpus = rng.choice([8, 16, 32, 64, 128, 256, 512, 1024])
        record = {
            "id": f"GEN-{n:06d}",
            "name": f"Generated project {n}",
            "principal_investigator": {"name": f"PI {n}", "email": f"pi{n}@example.org"},
            "institution": f"{institution} {n % 40}" if count > 200 else institution,
            "institution_type": kind
            if kind in vocab.institution_types
            else next(iter(vocab.institution_types)),
            "nominated_by": nominator,
            "pitch": "A generated nomination used to measure selection at scale.",
            "data": {
                "volume": f"{rng.choice([5, 50, 500])} {rng.choice(['GB', 'TB', 'TB', 'PB'])}",
                "types": rng.sample(data_types, rng.randint(1, 3)),
                "sources": rng.sample(sources, rng.randint(1, 2)),
                "subjects": rng.randint(10, 100_000),
            },
            "resources": {
                "vcpus": vcpus,
                "ram_gb": vcpus * rng.choice([4, 8, 16]),
                "gpus": gpus,
                "storage_tb": float(rng.choice([1, 5, 20, 50, 100, 250])),
            },
            "task_types": rng.sample(tasks, rng.randint(1, 2))
            if gpus == 0
            else ["gpu_machine_learning"],
            "access_months": rng.randint(2, 5),
            "maturity": rng.randint(1, 5),
            "ready_date": start + timedelta(days=rng.randint(-30, span - 10)),
            "commits_to_evaluation": rng.random() < 0.7,
            "eligibility": {
                "personalised_medicine": True,
                "societal_interest": True,
                "data_processing_agreement": rng.choice(["signed", "signed", "in_progress"]),
            },
        }
        out.append(Nomination.model_validate(record, context={"vocabularies": vocab}))
    return out


def instance(count: int, policy: SelectionPolicy, seed: int = 2021) -> SelectionInstance:
    """The selection over ``count`` generated nominations, each scored by ``policy``
    (every one taken as eligible: the benchmark's and the optimizer tests' input)."""
    candidates = [
        make_candidate(x, score(x, policy).total, policy) for x in nominations(count, policy, seed)
    ]
    return make_instance(candidates, policy)
