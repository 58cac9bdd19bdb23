"""A researcher's first step on Kubernetes, through their own kubeconfig: run a pod.

The demo uses it to show that the bundle's ``kubeconfig`` works as handed over
(the service account's token, its own namespace only) and to give metering a
pod to count.  It acts with exactly the bundle's identity: the bundle's
kubeconfig is loaded explicitly, never ``$KUBECONFIG`` or ``~/.kube/config``.
The pod is built to pass Pod Security "restricted" and states its requests.

What this module deliberately does not do: act as the admin, wait for the
container (devcloud's emulator runs none), or clean up (the namespace's
teardown removes the pod with everything else).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from provisioner.kubernetes.connection import CLIENT_ERRORS, load, translate_error
from provisioner.kubernetes.kubeconfig import FILE_NAME


@dataclass(frozen=True)
class StartedPod:
    name: str
    namespace: str
    phase: str
    cpu: str
    memory: str


def restricted_pod(name: str, *, cpu: str, memory: str, image: str = "busybox") -> dict:
    """A pod admitted under Pod Security "restricted", requesting (and limited to) cpu/memory."""
    resources = {"cpu": cpu, "memory": memory}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 1000,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "main",
                    "image": image,
                    "command": ["sleep", "3600"],
                    "resources": {"requests": resources, "limits": resources},
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
        },
    }


def run_pod(bundle: Path, name: str, *, cpu: str = "1", memory: str = "2Gi") -> StartedPod:
    """Create pod ``name`` in the kubeconfig's own namespace, as the researcher."""
    config = bundle / FILE_NAME
    data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    current = next(
        c for c in data.get("contexts", []) if c.get("name") == data.get("current-context")
    )
    namespace = current["context"]["namespace"]
    cluster = load(config)
    try:
        pod = cluster.core().create_namespaced_pod(
            namespace, restricted_pod(name, cpu=cpu, memory=memory)
        )
    except CLIENT_ERRORS as exc:
        raise translate_error(exc, f"creating pod {name} in {namespace}") from exc
    finally:
        cluster.close()
    return StartedPod(
        name, namespace, (pod.status.phase if pod.status else None) or "?", cpu, memory
    )
