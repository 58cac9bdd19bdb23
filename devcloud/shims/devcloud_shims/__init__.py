"""Code devcloud runs inside its own virtualenv, beside the OpenStack services.

Service glue, each piece replacing one thing that cannot exist on a developer
machine and nothing else: ``wsgi`` (entry points that keep gunicorn's argv
away from oslo.config), ``ml2_loopback`` (port binding without agents),
``cinder_noop`` (a volume backend without storage). The services' APIs,
databases, schedulers and quotas stay the real ones.

Helpers the stdlib-only controller runs here because they need the
virtualenv's libraries: ``dbadmin`` (PyMySQL) and ``seed`` (openstacksdk).
"""
