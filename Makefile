# The two commands: `make demo` and `make test`.  Both create or update the
# project's virtualenv first; nothing else needs to be installed by hand.

VENV  ?= .venv
STAMP := $(VENV)/.installed
BIN   := $(VENV)/bin

DEVCLOUD := devcloud/devcloud
CLOUDS   := $(CURDIR)/.devcloud/clouds.yaml

# pytest's worker processes for `make test` (pytest-xdist).  An integration
# module whose module-scoped fixture is costly (a deployment, real metering
# windows, an emulator) carries an xdist_group mark and stays on one worker.
TEST_WORKERS ?= 2

.PHONY: demo test lint unit bench devcloud clean

$(STAMP): pyproject.toml scripts/bootstrap
	sh scripts/bootstrap $(VENV)
	touch $(STAMP)

devcloud:
	$(DEVCLOUD) up

demo: $(STAMP) devcloud
	NGC_PILOT_CLOUD__CLOUDS_FILE=$(CLOUDS) NGC_PILOT_CLOUD__NAME=devcloud NGC_PILOT_KUBERNETES__KUBECONFIG=$(CURDIR)/.devcloud/kubeconfig $(BIN)/ngc-pilot --db sqlite:///var/demo.db demo --provision

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

test: lint devcloud
	$(BIN)/python scripts/check_dependencies.py
	$(BIN)/python scripts/check_wheel.py
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup

unit: $(STAMP)
	$(BIN)/pytest tests/unit

bench: $(STAMP) devcloud
	$(BIN)/python bench/selection.py
	$(BIN)/python bench/provision.py
	$(BIN)/python bench/tui.py
	$(BIN)/python bench/metering.py

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis

# Ansible and ansible-lint in a virtualenv of their own (the [ops] extra's pins),
# never in the service's: see README "Deploying".  The tests make it themselves.
.PHONY: ops-venv ops-lint
OPS_VENV ?= .venv-ops

ops-venv: $(STAMP)
	$(BIN)/python tests/support/opsvenv.py $(OPS_VENV)

ops-lint: ops-venv
	cd ansible && $(abspath $(OPS_VENV))/bin/ansible-lint --offline --profile production
