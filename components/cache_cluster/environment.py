"""Names of the environment variables and files cache-cluster reads (a light module: the CLI's help needs them)."""

PASSWORD_ENV = "REDIS_PASSWORD"  # the application user's password (the env contract's)
ADMIN_PASSWORD_ENV = "REDIS_ADMIN_PASSWORD"  # the admin user's: the hook signs in with it
# Where `make up` keeps the secrets it generates, one file per secret (0600, in a 0700 directory), relative to
# the directory it ran in.
SECRETS_STATE_DIR = ".cache-cluster/secrets"


def secret_file_name(variable: str) -> str:
    """A secret's file name (in SECRETS_STATE_DIR, in /run/secrets): its variable, lowercase, dashed."""
    return variable.lower().replace("_", "-")
