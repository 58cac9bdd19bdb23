"""Tenant provisioning: desired state, ``plan(desired, observed)``, ``apply(plan)``.

``model`` and ``plan`` are pure; the ``openstack`` package is the only place that
imports openstacksdk; ``apply`` interprets a plan against a backend and
reports each step to a ledger callback (the shell stores it in the database).
"""
