"""Names of the environment variables and files cache-cluster reads (a light module: the CLI's help needs them)."""

PASSWORD_ENV = "REDIS_PASSWORD"
# Where `make up` keeps the password it generated (mode 0600), relative to the directory it ran in.
PASSWORD_FILE = ".cache-cluster/password"
