"""The Kubernetes backend package: the only place the ``kubernetes`` client is imported.

One module per concern, the shape of ``provisioner.openstack``:

* pure (no client, importable by the service layer): ``names`` (DNS-1123
  names folded from pilot ids), ``desired`` (a pilot's :class:`NamespaceTenant`
  from the tenancy policy), ``manifests`` (the API objects as dictionaries),
  ``plan`` (observed -> :class:`provisioner.model.Change` steps),
  ``quantities``, ``kubeconfig`` (the researcher's kubeconfig file);
* with the client: ``connection`` (loading a kubeconfig, error translation),
  ``kinds`` (the typed calls per kind, an explicit table), ``observe``,
  ``steps`` (handlers and the dispatch table ``STEPS``), ``capacity``,
  ``isolation``, ``usage``, and ``backend`` (:class:`KubernetesBackend`, the
  wiring).

Exercised so far only against devcloud's Kubernetes API emulator (unit tests
check every object against the pinned 1.37 OpenAPI schemas); the integration
tests (``tests/integration/test_k8s_backend.py``) run unchanged against a real
cluster when ``NGC_PILOT_TEST_KUBECONFIG`` names its kubeconfig, which no
machine here has done.  Not wired yet: ``--platform`` in the services and CLI,
metering rows, metrics, the TUI.

This ``__init__`` imports nothing, so importing the pure modules never loads
the client: ``from provisioner.kubernetes.backend import KubernetesBackend``.
"""
