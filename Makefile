# One entry point for people and CI. Every target sets up what it needs (idempotent).
SHELL := /bin/bash
# Everything here (tests, mypy, the CDK app, the CLI, the local stand-ins) runs on
# the functions' own Python: the minor version of the Lambda runtime, read from its one declaration,
# RUNTIME in infra/bundling.py (docs/deployment.md, "Which Python"). .ci/find-python finds that
# CPython (python3.13 on PATH, pyenv's, uv's) or says what to install; `make PYTHON=/path/to/python3.13`
# names one. A .venv on another Python is rebuilt.
LAMBDA_PYTHON := $(shell sed -nE 's/^RUNTIME: Final = lambda_\.Runtime\.PYTHON_([0-9]+)_([0-9]+)$$/\1.\2/p' infra/bundling.py)
ifeq ($(LAMBDA_PYTHON),)
$(error infra/bundling.py has no line "RUNTIME: Final = lambda_.Runtime.PYTHON_<major>_<minor>")
endif
PYTHON ?=
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-python$(LAMBDA_PYTHON)
# The Node.js the CDK CLI and jsii (the Python CDK app's JavaScript kernel) run on: the one
# package.json pins (the npm package `node`, a supported LTS), not whatever the machine has.
NODE_BIN := $(CURDIR)/node_modules/.bin
export AWS_EC2_METADATA_DISABLED := true

.PHONY: venv test lint typecheck unit synth demo bench clean lambda-python

# The runtime's minor version, as the Makefile read it (tests/infra/test_python_version.py).
lambda-python:
	@echo $(LAMBDA_PYTHON)

venv: $(STAMP)

# uv installs the pinned requirements in seconds where pip takes a minute and a half of CPU on two
# cores; it compiles the bytecode pip would (this machine sets PYTHONDONTWRITEBYTECODE, so nothing
# would cache it later). It reads no pip.conf and installs the same versions from PyPI; should it be
# unreachable, pip does the same job.
UV_VERSION := 0.13.9
$(STAMP): requirements.txt requirements-dev.txt requirements-cli.txt pyproject.toml
	@if ! .ci/find-python $(LAMBDA_PYTHON) $(BIN)/python >/dev/null 2>&1; then \
		python=$$(.ci/find-python $(LAMBDA_PYTHON) $(PYTHON)) || exit 1; \
		echo "$(VENV): a new virtualenv on $$python (the Lambda runtime's Python $(LAMBDA_PYTHON))"; \
		rm -rf $(VENV) && "$$python" -m venv $(VENV) || exit 1; \
	fi
	$(BIN)/pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip install --quiet --python $(BIN)/python --compile-bytecode -r requirements-dev.txt \
		|| $(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e . \
		|| $(BIN)/pip install --quiet --no-deps -e .
	@touch $(STAMP)

# lint-imports checks the import contracts in pyproject.toml ([tool.importlinter]) on this checkout's
# packages (PYTHONPATH first: the venv's editable install may point at another checkout).
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check lambda_src infra tests local benchmarks app.py
	PYTHONPATH="$(CURDIR)/lambda_src" $(BIN)/lint-imports --no-cache

typecheck: venv
	$(BIN)/mypy

# Which interpreter runs the tests, in the log (tests/infra/test_python_version.py fails on another).
SAY_PYTHON = @$(BIN)/python -c 'import platform, sys; print(f"Python {platform.python_version()} ({sys.base_prefix}) runs the tests")'

unit: venv
	$(SAY_PYTHON)
	$(BIN)/pytest

# mypy (about 30 s from a cold cache, on one core) runs beside the tests, its report after theirs;
# either failing fails the target. The tests run on one worker more than there are cores
# (pytest-xdist, TEST_WORKERS), a test file's tests on one worker and tests/infra's all on one
# (tests/conftest.py: the CDK app is synthesized once per configuration): the
# end-to-end tests spend much of their time waiting for the stand-ins, so a third worker on two
# cores fills that time.
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 < 5 ? $$(nproc) + 1 : 5 )))
test:
	@$(MAKE) --no-print-directory -j2 venv node_modules  # side by side: uv compiling, npm downloading
	@$(MAKE) --no-print-directory lint
	$(SAY_PYTHON)
	@$(BIN)/mypy > $(VENV)/mypy.out 2>&1 & mypy_pid=$$!; \
	PATH="$(NODE_BIN):$$PATH" $(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile; tests=$$?; \
	wait $$mypy_pid; typed=$$?; \
	echo "mypy:"; cat $(VENV)/mypy.out; \
	test $$tests -eq 0 -a $$typed -eq 0

# The CDK CLI and Node.js pinned in package.json / package-lock.json.
node_modules: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch node_modules

# Synthesizes cdk.out/<stack>.template.json with the real CLI: Lambda dependencies bundled
# locally (no Docker), cdk-nag checks; no AWS credentials needed.
synth: venv node_modules
	PATH="$(NODE_BIN):$(CURDIR)/$(BIN):$$PATH" CDK_DISABLE_CLI_TELEMETRY=true \
		node_modules/.bin/cdk synth --quiet --no-notices

# The whole pipeline on loopback stand-ins (moto, the Greengrass bulk emulator, the runner).
demo: venv
	$(BIN)/python -m local.demo

.PHONY: local-up local-down
local-up: venv
	@$(BIN)/python -m local up $(if $(GREENGRASS),--greengrass $(GREENGRASS))

local-down:
	@test -x $(BIN)/python && $(BIN)/python -m local down || echo "nothing to stop (no .venv)"

# Measurements side by side with their baselines (about 100 MB of data; a few minutes).
bench: venv node_modules  # step 3b builds the asset with infra's code, whose jsii runs on the pinned Node.js
	PATH="$(NODE_BIN):$$PATH" $(BIN)/python -m benchmarks.run

# Greengrass V1: 1,000 uploads through the local pipeline; V2: 1,000 targets across 50 files;
# every file and target accounted for (docs/reliability.md). SOAK=v1|v2 runs one of them.
.PHONY: soak
soak: venv
	$(BIN)/python -m benchmarks.soak $(if $(SOAK),--greengrass $(SOAK))

clean:
	rm -rf $(VENV) cdk.out node_modules .mypy_cache .ruff_cache
