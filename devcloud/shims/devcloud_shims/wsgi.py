"""WSGI entry points for gunicorn, one per OpenStack API.

Several OpenStack WSGI modules hand ``sys.argv`` to oslo.config, which then
chokes on gunicorn's own flags. ``load(name)`` replaces ``sys.argv`` with the
service's program name and its config file before importing the real
application, so gunicorn can serve it unchanged:

    gunicorn "devcloud_shims.wsgi:load('keystone')"

The config file comes from ``DEVCLOUD_CONFIG_FILE``; the services that read
``OS_<SERVICE>_CONFIG_DIR`` get that set by the devcloud launcher too.
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


def load(name):
    """Return the WSGI application of service ``name`` (a key of ``_APPS``)."""
    module_name, prog, wants_config_file = _APPS[name]
    argv = [prog]
    config_file = os.environ.get("DEVCLOUD_CONFIG_FILE")
    if wants_config_file and config_file:
        argv += ["--config-file", config_file]
    sys.argv = argv
    return importlib.import_module(module_name).application
