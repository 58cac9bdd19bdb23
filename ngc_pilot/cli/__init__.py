"""The ``ngc-pilot`` command line: thin commands over the service functions."""
