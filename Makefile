# make test: create .venv if needed, install the project with dev extras, run ruff, mypy, pytest.
# make run:  same set-up, then run the main job (`codex config show` for the current directory).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test run lint typecheck pytest bench clean schemas

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check codex_admin tests benchmarks
	$(BIN)/ruff format --check codex_admin tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

test: lint typecheck pytest

run: $(STAMP)
	$(BIN)/codex config show

# managed/schema/ is for admins; the copies in codex_admin/config/ are what the fast checker reads.
schemas: $(STAMP)
	$(BIN)/codex config schema config > managed/schema/config.schema.json
	$(BIN)/codex config schema requirements > managed/schema/requirements.schema.json
	cp managed/schema/config.schema.json managed/schema/requirements.schema.json codex_admin/config/

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
