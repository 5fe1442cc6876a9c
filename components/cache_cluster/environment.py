"""Names of the environment variables cache-cluster reads (a light module: the CLI's help needs them)."""

PASSWORD_ENV = "REDIS_PASSWORD"
