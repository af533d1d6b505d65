# Two commands do all set-up on a fresh machine with only python3 and make:
#   make test   - create/refresh .venv from uv.lock (Airflow 3.3) and one venv per older Airflow minor from
#                 requirements/airflow-<minor>.txt, then lint, type-check and run the suite on each (the
#                 real-Airflow e2e suite on 3.3 and on the oldest supported minor, E2E_MATRIX)
#   make demo   - run the daily marketing DAG end to end against the offline KIE emulator
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin

# uv must use the machine's Python (no downloads) and the project's .venv.
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)

# The older Airflow minors the suite also runs on, each from a committed lock (requirements/airflow-<minor>.txt,
# re-resolved by `make locks` from requirements/airflow-<minor>.in).
MATRIX := 3.1 3.2
LOCKED := $(MATRIX)
# The older minors the real-Airflow e2e suite also runs on: the oldest supported one (3.3 features such as
# task_state_store are checked there for their documented fallback). Each run takes a few minutes of stack.
E2E_MATRIX := 3.1
# pytest-xdist processes per suite run: most tests wait on the emulator's clock rather than the CPU, so three
# on two cores cut the wall time by more than half (CONTRIBUTING.md, "Test time").
WORKERS ?= 3
PYTEST_PARALLEL := -n $(WORKERS)

.PHONY: venv matrix-venvs locks tools lint typecheck test test-fast test-matrix demo bench bench-inprocess \
	bench-airflow clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# --locked: fail if uv.lock no longer matches pyproject.toml instead of silently re-resolving.
$(VENV)/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --locked --python $(PYTHON)
	@touch $@

venv: $(VENV)/.synced

# One venv per older minor: the exact lock, then the provider itself (editable, no dependency resolution).
$(VENV)-%/.synced: requirements/airflow-%.txt | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENV)-$*
	VIRTUAL_ENV=$(CURDIR)/$(VENV)-$* $(UV) pip sync --quiet $<
	VIRTUAL_ENV=$(CURDIR)/$(VENV)-$* $(UV) pip install --quiet --no-deps -e .
	@touch $@

matrix-venvs: $(foreach minor,$(MATRIX),$(VENV)-$(minor)/.synced)

# Each lock is resolved as of its Airflow release day (the "exclude-newer:" line of its .in file).
locks: | $(UV)
	@for minor in $(LOCKED); do \
		cutoff=$$(sed -n 's/^# exclude-newer: //p' requirements/airflow-$$minor.in); \
		$(UV) pip compile --quiet pyproject.toml --group dev --universal --python-version 3.10 \
			--exclude-newer "$$cutoff" --no-header -c requirements/airflow-$$minor.in \
			-o requirements/airflow-$$minor.txt || exit 1; \
	done

# Debian's ffmpeg renders the emulator's media and gives the suite ffprobe to check them; Debian's chromium is
# the real browser the pages are checked in (Playwright drives it). Installed when missing so that no test is
# skipped for want of them (apt-get needs root, as on the developers' machines and in CI).
tools:
	@{ command -v ffprobe && command -v ffmpeg && command -v chromium; } >/dev/null 2>&1 || { \
		echo "make: installing Debian's ffmpeg and chromium"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			ffmpeg chromium fonts-dejavu-core; \
	}

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

# Airflow 3.3 (uv.lock): every layer in parallel, then the real-Airflow e2e suite on its own (one stack of
# Airflow components on the shared PostgreSQL); then the e2e suite on E2E_MATRIX, one minor at a time (each
# run starts its own stack); then every other layer on the older minors.
test: lint typecheck tools matrix-venvs
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) -m "not e2e"
	$(BIN)/python -m pytest -m e2e
	@for minor in $(E2E_MATRIX); do \
		echo "== e2e on Airflow $$($(VENV)-$$minor/bin/python -c 'import airflow; print(airflow.__version__)')"; \
		$(VENV)-$$minor/bin/python -m pytest -m e2e || exit 1; \
	done
	@$(MAKE) --no-print-directory test-matrix

# The older minors: every layer but e2e on each (the e2e suite runs on E2E_MATRIX in `test`, above).
test-matrix: tools matrix-venvs
	@for minor in $(MATRIX); do \
		echo "== Airflow $$minor: $$($(VENV)-$$minor/bin/python -c 'import airflow; print(airflow.__version__)')"; \
		$(VENV)-$$minor/bin/python -m pytest -q $(PYTEST_PARALLEL) -m "not e2e" || exit 1; \
	done

# Every layer but the slower real-Airflow e2e suite: unit, emulator, integration, DAGs (Airflow 3.3).
test-fast: venv tools
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) -m "not e2e"

# The main job: kie_daily_marketing end to end against the offline emulator; MP4s land in ./output/.
# KIE_API_KEY=... make demo runs it against the live KIE API instead (spends credits).
demo: venv
	$(BIN)/python scripts/demo.py

# Speed and scale as ratios against a baseline measured in the same run; see benchmarks/README.md.
# bench: all six (~65 min). bench-inprocess: 2-6 without a real Airflow (~16 min). bench-airflow: 1 and the
# campaign's real-Airflow figure, on a real deployment on the local PostgreSQL at KIE's real pace (~50 min).
bench: bench-inprocess bench-airflow

bench-inprocess: venv
	$(BIN)/python benchmarks/bench_import_cost.py
	$(BIN)/python benchmarks/bench_download.py
	$(BIN)/python benchmarks/bench_polling_cost.py
	$(BIN)/python benchmarks/bench_campaign.py
	$(BIN)/python benchmarks/bench_triggerer_density.py

bench-airflow: venv
	$(BIN)/python benchmarks/bench_worker_slots.py
	$(BIN)/python benchmarks/bench_campaign_airflow.py

clean:
	rm -rf $(VENV) $(foreach minor,$(MATRIX),$(VENV)-$(minor)) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache output
