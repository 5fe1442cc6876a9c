"""Failure domains of the cluster nodes on Kubernetes: which Kubernetes node (and zone) each pod runs on.

The hook Job reads them from the API with its ServiceAccount: `list pods` in its namespace (a namespaced,
read-only Role) gives each pod's `spec.nodeName`; `get nodes` (a read-only ClusterRole, optional) gives each
node's `topology.kubernetes.io/zone`. Why the API and not the downward API: a pod can learn its own node
name, but Redis 7.0 has nowhere to publish it for the hook to read (a custom announced field,
`cluster-announce-human-nodename`, is 7.2+), and no pod can learn its node's zone without reading the Node.

The domain is the zone when every node's zone is known and the plan's masters and replicas can all be kept in
different zones; otherwise the Kubernetes node. Reading is best effort: without the API (not in a pod, no
token, forbidden) the hook goes on without domains and says why.
"""

from __future__ import annotations

import json
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..placement import assign_replicas
from ..spec import ClusterSpec

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
ZONE_LABEL = "topology.kubernetes.io/zone"
API_TIMEOUT = 5.0

Fetch = Callable[[str], Any]  # API path -> decoded JSON


@dataclass(frozen=True)
class Domains:
    by_pod: Mapping[str, str]  # pod name -> failure domain
    note: str  # what was found, or why nothing was


def pod_nodes(pod_list: Mapping[str, Any]) -> dict[str, str]:
    """`pod name -> Kubernetes node name` from a PodList (pods not scheduled yet are left out)."""
    found = {}
    for pod in pod_list.get("items", []):
        node = pod.get("spec", {}).get("nodeName")
        if node:
            found[pod["metadata"]["name"]] = node
    return found


def choose_domains(
    nodes_of: Mapping[str, str],
    zone_of: Mapping[str, str | None],
    masters: Sequence[str],
    replicas: Sequence[str],
) -> tuple[dict[str, str], str]:
    """Zones when they are all known and keep every replica out of its master's zone, else Kubernetes nodes."""
    zones = {pod: zone_of.get(node) for pod, node in nodes_of.items()}
    known = {pod: zone for pod, zone in zones.items() if zone}
    spread = len(known) == len(nodes_of) and len(set(known.values())) > 1
    if spread and not assign_replicas(masters, replicas, known).colocated:
        return dict(known), f"zones of {len(known)} pods ({len(set(known.values()))} zones)"
    return dict(nodes_of), f"Kubernetes nodes of {len(nodes_of)} pods ({len(set(nodes_of.values()))} nodes)"


def discover(spec: ClusterSpec, fetch: Fetch) -> Domains:
    """The cluster nodes' failure domains, read through `fetch` (the API)."""
    from ..plan import plan

    nodes = plan(spec).nodes
    selector = f"app.kubernetes.io/instance={spec.name},app.kubernetes.io/component=cluster-node"
    path = f"/api/v1/namespaces/{spec.kubernetes.namespace}/pods?" + urllib.parse.urlencode(
        {"labelSelector": selector}
    )
    try:
        nodes_of = pod_nodes(fetch(path))
    except (OSError, ValueError) as error:
        return Domains({}, f"failure domains unknown: listing pods failed ({error})")
    zone_of: dict[str, str | None] = {}
    for node in sorted(set(nodes_of.values())):
        try:
            zone_of[node] = fetch(f"/api/v1/nodes/{urllib.parse.quote(node)}")["metadata"]["labels"].get(ZONE_LABEL)
        except (OSError, ValueError, KeyError):
            zone_of[node] = None  # no ClusterRole to read nodes, or no zone label: Kubernetes nodes only
    masters = [node.name for node in nodes if node.role == "master"]
    replicas = [node.name for node in nodes if node.role == "replica"]
    by_pod, note = choose_domains(nodes_of, zone_of, masters, replicas)
    return Domains(by_pod, f"failure domains: {note}")


def in_cluster_fetch(environ: Mapping[str, str] = os.environ, account_dir: Path = SERVICE_ACCOUNT_DIR) -> Fetch:
    """GET from the API server the pod runs under, with its ServiceAccount token; OSError when not in a pod."""
    host, port = environ.get("KUBERNETES_SERVICE_HOST"), environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        raise OSError("not in a Kubernetes pod (KUBERNETES_SERVICE_HOST is unset)")
    token = (account_dir / "token").read_text(encoding="utf-8").strip()
    context = ssl.create_default_context(cafile=str(account_dir / "ca.crt"))
    base = f"https://{'[' + host + ']' if ':' in host else host}:{port}"

    def fetch(path: str) -> Any:
        request = urllib.request.Request(
            base + path, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=API_TIMEOUT, context=context) as response:
            return json.load(response)

    return fetch


def discover_in_cluster(spec: ClusterSpec) -> Domains:
    try:
        fetch = in_cluster_fetch()
    except OSError as error:
        return Domains({}, f"failure domains unknown: {error}")
    return discover(spec, fetch)
