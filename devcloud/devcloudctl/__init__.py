"""devcloud's controller: runs a small, real OpenStack on 127.0.0.1.

Runs with nothing but the system ``python3`` (stdlib only), because it has to
create the virtualenv that holds OpenStack in the first place. Everything that
needs OpenStack's own libraries runs inside that virtualenv, from the
``devcloud_shims`` package. It does not manage anything it did not start.
"""
