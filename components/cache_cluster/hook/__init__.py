"""The post-deploy hook: wait -> inspect -> decide -> act -> converge -> validate -> report.

One implementation for Docker (run from the deploying machine), Compose (`make up`), Kubernetes (a Job in
the cluster) and people (`cache-cluster init | validate | status`).
"""

from .endpoints import AddressMap, Endpoint, HostPort, Targets, targets_from_nodes, targets_from_spec
from .report import EXIT_CODES, SCHEMA_VERSION, Report
from .run import run_init, run_status, run_validate

__all__ = [
    "EXIT_CODES",
    "SCHEMA_VERSION",
    "AddressMap",
    "Endpoint",
    "HostPort",
    "Report",
    "Targets",
    "run_init",
    "run_status",
    "run_validate",
    "targets_from_nodes",
    "targets_from_spec",
]
