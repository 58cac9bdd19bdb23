"""devcloud's Kubernetes API emulator: test and demo infrastructure, not a cluster.

No kube-apiserver can be installed on these machines, so ngc-pilot's Kubernetes
backend is exercised against this small HTTP server instead. It serves the
handful of resources the backend uses with the API's semantics (resourceVersion
and conflicts, ``Status`` bodies, namespace cascades, ResourceQuota admission,
LimitRange defaults, RBAC for service-account tokens, TokenRequest) and validates
every body against one pinned Kubernetes version's OpenAPI schemas.

It deliberately runs no containers, enforces no NetworkPolicy and does not
watch; it keeps its objects in memory, saved to a JSON file when given one
(devcloud does), so a restart keeps them. It imports
nothing from ngc_pilot: it is devcloud's own code. See devcloud/README.md.
"""
