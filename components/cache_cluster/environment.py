"""Names of the environment variables and files cache-cluster reads (a light module: the CLI's help needs them)."""

PASSWORD_ENV = "REDIS_PASSWORD"  # the application user's password (the env contract's)
ADMIN_PASSWORD_ENV = "REDIS_ADMIN_PASSWORD"  # the admin user's: the hook signs in with it
# Where `make up` keeps the secrets it generates, one file per secret (0600, in a 0700 directory), relative to
# the directory it ran in.
SECRETS_STATE_DIR = ".cache-cluster/secrets"


def secret_file_name(variable: str) -> str:
    """A secret's file name (in SECRETS_STATE_DIR, in /run/secrets): its variable, lowercase, dashed."""
    return variable.lower().replace("_", "-")

# TLS files by kind (tls.py): the variable Compose reads each from (PEM text, like the passwords), which also
# names its file in /run/secrets, and the file `cache-cluster render tls-certs` keeps it in (TLS_STATE_DIR).
TLS_STATE_DIR = ".cache-cluster/tls"
TLS_ENV = {
    "tls-ca": "REDIS_TLS_CA",
    "tls-server-cert": "REDIS_TLS_SERVER_CERT",
    "tls-server-key": "REDIS_TLS_SERVER_KEY",
    "tls-client-cert": "REDIS_TLS_CLIENT_CERT",
    "tls-client-key": "REDIS_TLS_CLIENT_KEY",
}
TLS_STATE_FILES = {
    "tls-ca": "ca.crt",
    "tls-server-cert": "server.crt",
    "tls-server-key": "server.key",
    "tls-client-cert": "client.crt",
    "tls-client-key": "client.key",
}
