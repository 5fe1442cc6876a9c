"""The hook's three entry points: init, validate, status. Steps: wait -> inspect -> decide -> act -> converge
-> validate -> report. Every step shares one deadline; nothing here prints (callers render the Report)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import redis

from .act import ActError, ActResult, act, restore
from .connect import close, scrub
from .converge import wait_fully_ready
from .decide import decide
from .endpoints import Targets
from .inspect import inspect_nodes
from .rebalance import restore_preferred_masters
from .report import Report
from .validate import fallback_checks, validate
from .wait import ProgressCallback, WaitResult, wait_ready

Log = Callable[[str], None]
DECIDE_RETRY_SECONDS = 0.1
FALLBACK_POLL_SECONDS = 0.1


def _quiet(_: str) -> None:
    return None


def _not_ready_report(report: Report, waited: WaitResult) -> Report:
    missing = waited.not_ready()
    report.servers = list(waited.statuses.values())
    if waited.gave_up:
        auth = any(status.reason.startswith("auth failed") for status in missing)
        report.outcome = "user-error" if auth else "unhealthy"
        report.summary = f"{len(missing)} server(s) refuse the hook: " + "; ".join(
            f"{status.endpoint.address}: {status.reason}" for status in missing
        )
    else:
        report.outcome = "timeout"
        report.summary = f"deadline passed with {len(missing)} server(s) not ready: " + "; ".join(
            f"{status.endpoint.address}: {status.reason}" for status in missing
        )
    return report


def _cluster_clients(targets: Targets, clients: Mapping[str, redis.Redis]) -> dict[str, redis.Redis]:
    return {node.address: clients[node.address] for node in targets.nodes if node.address in clients}


def _finish(report: Report, targets: Targets, password: str, clients: Mapping[str, redis.Redis], *, write: bool,
            started: float) -> Report:
    """Read the final state, validate, and set the outcome from the checks."""
    mark = time.monotonic()
    cluster = _cluster_clients(targets, clients)
    try:
        report.states = inspect_nodes(targets.nodes, cluster)
    except redis.RedisError as error:
        report.problems.append(scrub(f"reading the final state failed: {type(error).__name__}: {error}", password))
    report.checks = validate(targets, password, report.states, clients, write=write)
    report.timings["validate"] = time.monotonic() - mark
    report.timings["total"] = time.monotonic() - started
    failed = [check for check in report.checks if check.failed]
    if report.outcome == "healthy" and (failed or report.problems):
        report.outcome = "unhealthy"
    if not report.summary:
        report.summary = (
            f"{len(failed)} check(s) failed: {', '.join(check.name for check in failed)}"
            if failed
            else f"all {len(report.checks)} checks passed or skipped"
        )
    return report


def wait_fallback(
    targets: Targets, password: str, clients: Mapping[str, redis.Redis], *, deadline: float
) -> list[str]:
    """Until the fallback replica is linked and the sentinels agree with quorum (they find each other through
    the primary's hello channel, seconds after they start); returns what is still not so at the deadline."""
    while True:
        failed = [f"{c.name}: {c.detail}" for c in fallback_checks(targets, password, clients, write=False) if c.failed]
        if not failed or time.monotonic() + FALLBACK_POLL_SECONDS >= deadline:
            return failed
        time.sleep(FALLBACK_POLL_SECONDS)


def run_init(
    targets: Targets,
    password: str,
    *,
    timeout: float = 120.0,
    on_progress: ProgressCallback | None = None,
    log: Log = _quiet,
    prefer_spec_masters: bool = False,
) -> Report:
    started = time.monotonic()
    deadline = started + timeout
    report = Report(command="init")
    waited = wait_ready(targets.servers, password, deadline=deadline, on_round=on_progress)
    report.timings["wait"] = waited.elapsed
    try:
        if not waited.ready:
            return _not_ready_report(report, waited)
        report.servers = list(waited.statuses.values())
        cluster = _cluster_clients(targets, waited.clients)
        mark = time.monotonic()
        while True:
            states = inspect_nodes(targets.nodes, cluster)
            decision = decide(states, masters=targets.masters, replicas_per_master=targets.replicas_per_master)
            if decision.kind != "wait" or time.monotonic() + DECIDE_RETRY_SECONDS >= deadline:
                break
            log(f"waiting: {decision.summary}: " + "; ".join(map(str, decision.findings)))
            time.sleep(DECIDE_RETRY_SECONDS)
        report.timings["decide"] = time.monotonic() - mark
        report.decision, report.states = decision, states
        log(f"decision: {decision.kind}: {decision.summary}")
        if decision.kind == "wait":
            report.outcome, report.summary = "timeout", f"deadline passed while {decision.summary}"
            return report
        if decision.kind == "refuse":
            report.outcome, report.summary = "refused", f"refused: {decision.summary}; nothing was changed"
            return report
        result = ActResult()
        try:
            if decision.kind in ("create", "heal"):
                mark = time.monotonic()
                try:
                    # `result` is filled as act goes, so a failure part way still restores what it changed.
                    act(decision, {s.endpoint.address: s for s in states}, cluster, deadline=deadline, result=result)
                except ActError as error:
                    report.outcome = "unhealthy"
                    report.summary = scrub(f"{decision.kind} failed: {error}", password)
                    return report
                report.actions = result.actions
                report.timings["act"] = time.monotonic() - mark
            mark = time.monotonic()
            converged = wait_fully_ready(targets.nodes, cluster, deadline=deadline)
            report.timings["converge"] = time.monotonic() - mark
            log(f"fully ready: {converged.ready} after {converged.elapsed:.2f} s ({converged.polls} polls)")
            if prefer_spec_masters and converged.ready:
                mark = time.monotonic()
                swapped, problems = restore_preferred_masters(
                    targets, inspect_nodes(targets.nodes, cluster), cluster, deadline=deadline
                )
                report.actions += swapped
                report.problems += problems
                if swapped:
                    converged = wait_fully_ready(targets.nodes, cluster, deadline=deadline)
                report.timings["prefer-spec-masters"] = time.monotonic() - mark
        finally:
            report.problems += restore(result, cluster)
        if not converged.ready:
            report.outcome = "timeout"
            report.summary = "deadline passed before the cluster was fully ready"
            report.problems += list(converged.problems)
        elif targets.fallback_primary is not None:
            mark = time.monotonic()
            pending = wait_fallback(targets, password, waited.clients, deadline=deadline)
            report.timings["fallback"] = time.monotonic() - mark
            if pending:
                report.outcome = "timeout"
                report.summary = "deadline passed before the fallback tier was ready"
                report.problems += pending
        return _finish(report, targets, password, waited.clients, write=True, started=started)
    finally:
        for connection in waited.clients.values():
            close(connection)


def run_validate(
    targets: Targets,
    password: str,
    *,
    timeout: float = 120.0,
    on_progress: ProgressCallback | None = None,
) -> Report:
    """Wait for every server (deadline), then validate. Writes only probe keys, which it deletes."""
    started = time.monotonic()
    report = Report(command="validate")
    waited = wait_ready(targets.servers, password, deadline=started + timeout, on_round=on_progress)
    report.timings["wait"] = waited.elapsed
    try:
        if not waited.ready:
            return _not_ready_report(report, waited)
        report.servers = list(waited.statuses.values())
        return _finish(report, targets, password, waited.clients, write=True, started=started)
    finally:
        for connection in waited.clients.values():
            close(connection)


def run_status(targets: Targets, password: str, *, timeout: float = 5.0) -> Report:
    """One look at whatever answers within `timeout`: no waiting for the rest, no changes, no writes."""
    started = time.monotonic()
    report = Report(command="status")
    waited = wait_ready(targets.servers, password, deadline=started + timeout, once=True)
    report.timings["wait"] = waited.elapsed
    try:
        report.servers = list(waited.statuses.values())
        if not waited.clients:
            _not_ready_report(report, waited)
            if report.outcome == "timeout":
                # status does not wait, so nothing answering is the state, not a timeout.
                report.outcome = "unhealthy"
                report.summary = report.summary.replace("deadline passed with", "no answer:", 1)
            return report
        if not waited.ready:
            missing = waited.not_ready()
            report.outcome = "unhealthy"
            report.summary = f"{len(missing)} server(s) not reachable: " + "; ".join(
                f"{status.endpoint.address}: {status.reason}" for status in missing
            )
        return _finish(report, targets, password, waited.clients, write=False, started=started)
    finally:
        for connection in waited.clients.values():
            close(connection)
