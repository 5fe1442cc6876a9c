"""What each target does with the spec's settings: the ones it cannot apply, said out loud.

A setting a target silently drops is a trap (a `cpu_limit` that limits nothing). The Docker renderings (the Pulumi
component and the Compose file) honour what a Docker engine can: `memory.cpu_limit` becomes the container's
`cpus` (Docker's `--cpus`, a hard CFS quota). What Docker has no equivalent for is listed here, and
`cache-cluster check-config` prints it. Pure: no Pulumi, no Docker.
"""

from __future__ import annotations

from decimal import Decimal

from .spec import ClusterSpec, Kubernetes, Memory, Persistence


def docker_cpus(cpu: str) -> str:
    """A Kubernetes CPU quantity (`500m`, `1`, `1.5`) as Docker's `--cpus` decimal (`0.5`, `1`, `1.5`)."""
    value = Decimal(cpu[:-1]) / 1000 if cpu.endswith("m") else Decimal(cpu)
    text = format(value.normalize(), "f")
    return text


def docker_notes(spec: ClusterSpec) -> list[str]:
    """The settings a Docker target (Pulumi Docker component, Compose file) does not apply, one note each."""
    notes: list[str] = []
    defaults_memory, defaults_persistence = Memory(), Persistence()
    if spec.memory.cpu_request != defaults_memory.cpu_request:
        notes.append(
            f"memory.cpu_request {spec.memory.cpu_request!r} has no effect on Docker: Docker reserves no CPU for a "
            "container (cpu_shares is only a relative weight under contention); it is used by the Kubernetes "
            "target. memory.cpu_limit is applied on Docker (as --cpus)."
        )
    if spec.persistence.volume_size != defaults_persistence.volume_size:
        notes.append(
            f"persistence.volume_size {spec.persistence.volume_size!r} has no effect on Docker: local Docker "
            "volumes have no size limit (the node's disk is the limit); it sizes the Kubernetes volume claims."
        )
    changed = sorted(
        name for name, value in spec.kubernetes if value != getattr(Kubernetes(), name)
    )
    if changed:
        notes.append(
            f"kubernetes.{', kubernetes.'.join(changed)} {'has' if len(changed) == 1 else 'have'} no effect on "
            "Docker: only the Kubernetes target reads the kubernetes section."
        )
    return notes


def target_notes(spec: ClusterSpec) -> list[str]:
    """What the spec's own target leaves unapplied (the Kubernetes target applies every field it declares)."""
    return docker_notes(spec) if spec.target == "docker" else []
