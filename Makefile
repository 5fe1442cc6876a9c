# The two commands a newcomer needs: `make up` (a running, initialized local cluster) and `make test`.
# Both install what they need. Everything else here is a building block of those two.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
SPEC ?= Pulumi.dev.yaml
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: up down destroy status rotate-password test lint typecheck unit integration e2e venv system images compose monitoring policy bench mutation clean

up: venv system images ## Start the local cluster on Docker (Compose v2), initialize and validate it
	scripts/up.sh "$(SPEC)"

down: venv ## Stop the local cluster; data volumes are kept
	scripts/down.sh "$(SPEC)"

destroy: venv ## Stop the local cluster and delete its data volumes
	scripts/down.sh "$(SPEC)" --volumes

status: venv ## Show the cluster's state as a table
	scripts/status.sh "$(SPEC)"

rotate-password: venv ## Rotate passwords on the running cluster without downtime (SECRETS=password|admin|exporter|replication|sentinel|acl:<user>|all)
	scripts/rotate-password.sh "$(SPEC)" $(SECRETS)

test: venv system ## Install everything and run every test tier (unit, integration, e2e) plus ruff and mypy
	scripts/test.sh

lint: venv
	$(VENV)/bin/ruff check components infra tests bench policies
	$(VENV)/bin/mypy --strict components/cache_cluster

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	scripts/install-python.sh "$(VENV)"
	touch $@

system:
	scripts/install-system.sh
	scripts/start-dockerd.sh

images: system
	scripts/build-images.sh

policy: venv ## The policy pack's verdicts on every stack (Pulumi.*.yaml here and in examples/*/, with its Pulumi.<stack>.policy.json), offline
	@for stack_file in Pulumi.*.yaml examples/*/Pulumi.*.yaml; do \
	  project=$$(dirname "$$stack_file"); stack=$$(basename "$$stack_file" .yaml); stack=$${stack#Pulumi.}; \
	  config=$$project/Pulumi.$$stack.policy.json; [ -f "$$config" ] && config_option="--config $$config" || config_option=; \
	  echo "==> policy-check --stack $$stack --project-dir $$project $$config_option"; \
	  $(VENV)/bin/cache-cluster policy-check --stack "$$stack" --project-dir "$$project" $$config_option || exit 1; \
	done

compose: venv monitoring ## Render docker-compose.cache-cluster.yml (and monitoring/) from the dev stack
	$(VENV)/bin/cache-cluster render compose Pulumi.dev.yaml --output docker-compose.cache-cluster.yml

monitoring: venv ## Render monitoring/ (prometheus.yml, alert rules, dashboard) from the dev stack
	$(VENV)/bin/cache-cluster render monitoring Pulumi.dev.yaml --output-dir monitoring

bench: venv system images
	$(PY) -m bench.cli_start
	$(PY) -m bench.formation
	$(PY) -m bench.up
	$(PY) -m bench.failover

mutation: venv ## Mutation testing (mutmut) of hook/decide.py, placement.py and spec.py: a score per module (not in `make test`)
	$(PY) scripts/mutation.py

clean:
	rm -rf $(VENV) build dist *.egg-info
