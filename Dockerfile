# The hook image for people with a registry: this package and its CLI (`cache-cluster init ...`), the
# post-deploy hook that forms the cluster as a one-shot container (docker-compose.cache-cluster.yml's
# cache-cluster-init service, the Kubernetes Job). Without a registry, scripts/build-images.sh builds the same
# thing from Debian's python3 and the local wheels (cache-cluster/hook:<version>-debian).
#
#   docker build -t cache-cluster/hook:0.1.0 .
#   CACHE_CLUSTER_HOOK_IMAGE=cache-cluster/hook:0.1.0 docker-compose -f docker-compose.cache-cluster.yml up -d
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY components ./components
# The package with its runtime dependencies only (no Pulumi extras); byte-compiled so a start compiles nothing.
RUN pip install . && python -m compileall -q /usr/local/lib/python3.11/site-packages && rm -rf /src

WORKDIR /tmp
ENV HOME=/tmp
USER 65534:65534
ENTRYPOINT ["cache-cluster"]
CMD ["--help"]
