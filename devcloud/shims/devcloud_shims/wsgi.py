"""WSGI entry points for gunicorn, one per OpenStack API.

Several OpenStack WSGI modules hand ``sys.argv`` to oslo.config, which then
chokes on gunicorn's own flags. ``load(name)`` replaces ``sys.argv`` with the
service's program name and its config file before importing the real
application, so gunicorn can serve it unchanged:

    gunicorn "devcloud_shims.wsgi:load('keystone')"

The config file comes from ``DEVCLOUD_CONFIG_FILE``; the services that read
``OS_<SERVICE>_CONFIG_DIR`` get that set by the devcloud launcher too.

Neutron and Cinder build their policy enforcer lazily, on the first request
that checks a policy, and publish it before its rules are registered: a
request checked by another thread meanwhile finds no rule and is refused
(HTTP 403 ``rule:create_security_group is disallowed by policy``, for an
admin).  Every freshly started Neutron did that to the first concurrent
creates (28 of 32 in a test of 4 restarts x 8 creates).  ``load`` therefore
builds the enforcer once the application is loaded, before gunicorn serves.
"""

import importlib
import os
import sys

# service name -> (module holding ``application``, program name, argv takes --config-file)
_APPS = {
    "keystone": ("keystone.wsgi.api", "keystone-wsgi-public", False),
    "placement": ("placement.wsgi.api", "placement-api", False),
    "nova": ("nova.wsgi.osapi_compute", "nova-api", True),
    "neutron": ("neutron.wsgi.api", "neutron-api", True),
    "glance": ("glance.wsgi.api", "glance-api", False),
    "cinder": ("cinder.wsgi.api", "cinder-api", True),
}

# Services whose policy enforcer is made lazily and racily (see above): its module,
# whose ``init()`` builds it.  Nova, Placement and Glance publish theirs complete.
_POLICY_INIT = {"neutron": "neutron.policy", "cinder": "cinder.policy"}


def load(name):
    """Return the WSGI application of service ``name`` (a key of ``_APPS``)."""
    module_name, prog, wants_config_file = _APPS[name]
    argv = [prog]
    config_file = os.environ.get("DEVCLOUD_CONFIG_FILE")
    if wants_config_file and config_file:
        argv += ["--config-file", config_file]
    sys.argv = argv
    application = importlib.import_module(module_name).application
    policy = _POLICY_INIT.get(name)
    if policy is not None:
        importlib.import_module(policy).init()
    return application
