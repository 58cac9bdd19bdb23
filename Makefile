# The two commands: `make demo` and `make test`.  Both create or update the
# project's virtualenv first; nothing else needs to be installed by hand.

VENV  ?= .venv
STAMP := $(VENV)/.installed
BIN   := $(VENV)/bin

.PHONY: demo test lint unit bench clean

$(STAMP): pyproject.toml scripts/bootstrap
	sh scripts/bootstrap $(VENV)
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/ngc-pilot --db sqlite:///var/demo.db demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest

unit: $(STAMP)
	$(BIN)/pytest tests/unit

bench: $(STAMP)
	$(BIN)/python bench/selection.py

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
