"""The scheduler service: APScheduler wiring, job registry and job locks.

Only wiring lives here; every job calls a function that exists elsewhere
(``ngc_pilot.metering``, ``ngc_pilot.lifecycle``, ...).
"""
