"""What every Pulumi target shares: the deploy-time input error, passwords, TLS files, the spec for the hook.

A password arrives in one of three ways: a Pulumi input (checked where its value is known), the spec (already
checked by the model), or nowhere (generated with pulumi-random). Whichever way, it leaves as a secret Output.

TLS files (tls.enabled) are made with pulumi-tls: the same CA, server certificate and client certificate that
`cache-cluster render tls-certs` makes for Compose (certs.py), with the same names and usages. The private keys
are secrets end to end: pulumi-tls's SDK lists `privateKeyPem` among a PrivateKey's additional secret outputs
(pulumi_tls/private_key.py), and they are wrapped in `Output.secret` here as well, so no later `apply` can drop
the mark. The certificates are public. `early_renewal_hours` makes a `pulumi up` in the last stretch of a
certificate's life replace it, and the containers get the new files with it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence

import pulumi
import pulumi_random as random
import pulumi_tls as tls_provider
from pydantic import ValidationError

from .. import acl, tls
from ..acl import SecretKind
from ..errors import CacheClusterError, Problem, problems_from_validation
from ..plan import DeploymentPlan
from ..spec import Auth, ClusterSpec
from ..spec import spec_json as spec_json  # the hook's spec, importable from here as before

GENERATED_PASSWORD_LENGTH = 32


class DeployInputError(CacheClusterError, pulumi.RunError):
    """Bad input found while deploying: Pulumi prints a RunError's text and exits, without a traceback."""

    def __str__(self) -> str:
        return self.render()


def checked_password(value: str, field: str = "password") -> str:
    """The spec's password rules, for a password that arrives as a Pulumi input rather than in the spec."""
    try:
        Auth.model_validate({"password": value})
    except ValidationError as error:
        # The rule's own messages, pinned to the input (the value itself is never shown).
        problems = [Problem(field, problem.message) for problem in problems_from_validation(error)]
        raise DeployInputError(f"{field} is not acceptable", problems) from None
    return value


def generated_password(resource_name: str, opts: pulumi.ResourceOptions) -> pulumi.Output[str]:
    # Letters and digits only: the spec's password rule allows nothing that needs quoting anywhere.
    generated = random.RandomPassword(resource_name, length=GENERATED_PASSWORD_LENGTH, special=False, opts=opts)
    return pulumi.Output.secret(generated.result)


def cluster_password(
    name: str, spec: ClusterSpec, given: pulumi.Input[str] | None, opts: pulumi.ResourceOptions
) -> pulumi.Output[str]:
    """The shared password: given, else the spec's, else generated; always a secret."""
    if given is not None:
        # Checked where the value is known; a RunError ends `pulumi up` with the message alone.
        return pulumi.Output.secret(pulumi.Output.from_input(given).apply(checked_password))
    if spec.auth.password is not None:
        return pulumi.Output.secret(spec.auth.password.get_secret_value())
    return generated_password(f"{name}-password", opts)


def acl_passwords(
    name: str, spec: ClusterSpec, given: Mapping[str, pulumi.Input[str]], opts: pulumi.ResourceOptions
) -> dict[str, pulumi.Output[str]]:
    """One secret password per declared ACL user: given (and checked), else generated."""
    declared = [user.name for user in spec.auth.acl_users]
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise DeployInputError(
            f"acl_passwords names users {unknown} that spec.auth.acl_users does not declare; "
            f"fix: declare them, or remove their passwords (declared: {declared})"
        )
    return _given_or_generated(declared, given, "acl_passwords", lambda user: f"{name}-acl-{user}-password", opts)


def internal_passwords(
    name: str, spec: ClusterSpec, given: Mapping[str, pulumi.Input[str]], opts: pulumi.ResourceOptions
) -> dict[str, pulumi.Output[str]]:
    """The passwords of the built-in users other than the application's (admin, exporter, replication,
    sentinel): given (and checked), else generated; always secrets."""
    kinds = [kind for kind in acl.password_kinds(spec) if kind != "password" and not kind.startswith("acl:")]
    unknown = sorted(set(given) - set(kinds))
    if unknown:
        raise DeployInputError(
            f"internal_passwords names users {unknown} this deployment does not have; fix: use only {kinds}"
        )
    return _given_or_generated(kinds, given, "internal_passwords", lambda kind: f"{name}-{kind}-password", opts)


def _given_or_generated(
    keys: Sequence[str],
    given: Mapping[str, pulumi.Input[str]],
    argument: str,
    resource_name: Callable[[str], str],
    opts: pulumi.ResourceOptions,
) -> dict[str, pulumi.Output[str]]:
    """A secret password per key: given (checked, and named `argument[key]` in errors), else generated."""
    passwords: dict[str, pulumi.Output[str]] = {}
    for key in keys:
        if key in given:
            field = f"{argument}[{key!r}]"
            checked = pulumi.Output.from_input(given[key]).apply(functools.partial(checked_password, field=field))
            passwords[key] = pulumi.Output.secret(checked)
        else:
            passwords[key] = generated_password(resource_name(key), opts)
    return passwords


def secret_values(
    password: pulumi.Output[str],
    acl_users: Mapping[str, pulumi.Output[str]],
    internal: Mapping[str, pulumi.Output[str]] | None = None,
) -> dict[str, pulumi.Output[str]]:
    """Every password by its kind, as acl.py, ServicePlan.secret_files and the contract name them."""
    return {"password": password} | dict(internal or {}) | {f"acl:{user}": value for user, value in acl_users.items()}


def secret_file_contents(
    kinds: Sequence[str], passwords: Mapping[str, pulumi.Output[str]], exporter_targets: Sequence[str]
) -> dict[str, pulumi.Output[str]]:
    """What each secret file holds (acl.secret_contents), as secret Outputs."""
    contents: dict[str, pulumi.Output[str]] = {}
    for kind in kinds:
        if kind == acl.EXPORTER_MAP:
            content = passwords[acl.EXPORTER_USER].apply(
                functools.partial(acl.exporter_password_map, tuple(exporter_targets))
            )
        else:
            content = passwords[kind]
        contents[kind] = pulumi.Output.secret(content)
    return contents


def deployment_secret_files(
    deployment: DeploymentPlan, passwords: Mapping[str, pulumi.Output[str]], *, skip: Sequence[SecretKind] = ()
) -> dict[SecretKind, pulumi.Output[str]]:
    """Every secret file any container of the deployment mounts (the hook's too), by kind, as secret Outputs;
    `skip`: kinds that come from elsewhere (tls.cert_secret's TLS files)."""
    services = deployment.services + ((deployment.init.service,) if deployment.init is not None else ())
    kinds = list(
        dict.fromkeys(
            kind for service in services for kind in service.secret_files.values() if kind not in skip
        )
    )
    return secret_file_contents(kinds, passwords, deployment.exporter_targets)


KEY_ALGORITHM = "ECDSA"
KEY_CURVE = "P256"  # as certs.py: small, fast, taken by OpenSSL (Redis), Go (the exporter) and Python
CA_USES = ["cert_signing", "crl_signing", "digital_signature"]
SERVER_USES = ["digital_signature", "key_agreement", "server_auth", "client_auth"]
CLIENT_USES = ["digital_signature", "key_agreement", "client_auth"]
ORGANIZATION = "cache-cluster"


def renewal_hours(validity_hours: int) -> int:
    """Renew in the last tenth of a certificate's life (at most 30 days before it ends)."""
    return min(30 * 24, max(1, validity_hours // 10))


def tls_file_contents(name: str, spec: ClusterSpec, opts: pulumi.ResourceOptions) -> dict[str, pulumi.Output[str]]:
    """Each TLS file's content by kind (tls.KINDS); empty without TLS."""
    if not spec.tls.enabled:
        return {}
    hours = spec.tls.validity_days * 24
    ca_key = tls_provider.PrivateKey(f"{name}-tls-ca-key", algorithm=KEY_ALGORITHM, ecdsa_curve=KEY_CURVE, opts=opts)
    ca_hours = hours * 2  # as certs.py: the CA outlives what it signs
    ca = tls_provider.SelfSignedCert(
        f"{name}-tls-ca",
        private_key_pem=ca_key.private_key_pem,
        is_ca_certificate=True,
        set_subject_key_id=True,
        subject=tls_provider.SelfSignedCertSubjectArgs(common_name=f"{spec.name} CA", organization=ORGANIZATION),
        validity_period_hours=ca_hours,
        early_renewal_hours=renewal_hours(ca_hours),
        allowed_uses=CA_USES,
        opts=opts,
    )

    def issue(role: str, common_name: str, uses: list[str], names: Sequence[str], ips: Sequence[str]) -> tuple[
        pulumi.Output[str], pulumi.Output[str]
    ]:
        key = tls_provider.PrivateKey(f"{name}-tls-{role}-key", algorithm=KEY_ALGORITHM, ecdsa_curve=KEY_CURVE,
                                      opts=opts)
        request = tls_provider.CertRequest(
            f"{name}-tls-{role}-request",
            private_key_pem=key.private_key_pem,
            subject=tls_provider.CertRequestSubjectArgs(common_name=common_name, organization=ORGANIZATION),
            dns_names=list(names),
            ip_addresses=list(ips),
            opts=opts,
        )
        cert = tls_provider.LocallySignedCert(
            f"{name}-tls-{role}",
            cert_request_pem=request.cert_request_pem,
            ca_private_key_pem=ca_key.private_key_pem,
            ca_cert_pem=ca.cert_pem,
            validity_period_hours=hours,
            early_renewal_hours=renewal_hours(hours),
            set_subject_key_id=True,
            allowed_uses=uses,
            opts=opts,
        )
        return cert.cert_pem, pulumi.Output.secret(key.private_key_pem)

    server_cert, server_key = issue(
        "server", f"{spec.name} servers", SERVER_USES, tls.server_dns_names(spec), tls.server_ip_addresses(spec)
    )
    client_cert, client_key = issue("client", "cache-cluster client", CLIENT_USES, (), ())
    return {
        tls.CA: ca.cert_pem,
        tls.SERVER_CERT: server_cert,
        tls.SERVER_KEY: server_key,
        tls.CLIENT_CERT: client_cert,
        tls.CLIENT_KEY: client_key,
    }
