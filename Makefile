# langchain-vllm developer commands. Everything installs what it needs: a fresh machine only
# needs python3 and pip. `make demo` and `make check` are the two entry points.
.PHONY: all help uv install format lint type test test-deps integration_tests check demo record \
        server-start server-stop server-status bench doctor docs clean

PYTHON ?= python3
UV := $(PYTHON) -m uv
RUN := $(UV) run --frozen
LAUNCHER := $(PYTHON) scripts/vllm_local.py
PYTEST_UNIT := $(RUN) pytest tests/unit_tests --disable-socket --allow-unix-socket

all: help

help:
	@echo "make demo               start a local CPU vLLM and run the translation example"
	@echo "make check              format check, lint, types, unit (+ test-deps) and integration tests"
	@echo "make test               unit tests + standard suite replayed from cassettes (no server)"
	@echo "make test-deps          unit tests at the lowest and the newest dependency versions allowed"
	@echo "make integration_tests  tests against a real vLLM (VLLM_BASE_URL, else local CPU server)"
	@echo "make record             re-record the standard-suite cassettes against the local server"
	@echo "make bench              benchmarks (ratios against baselines measured in the same run)"
	@echo "make docs               run the docs pages against the local servers, rewrite their outputs"
	@echo "make doctor             probe the vLLM server (VLLM_BASE_URL, else local) and report"
	@echo "make format | lint | type"
	@echo "make server-start | server-stop | server-status"

uv:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet 'uv>=0.5,<1'

install: uv
	@$(UV) sync --frozen --quiet

format: install
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

lint: install
	$(RUN) ruff format --check .
	$(RUN) ruff check .

type: install
	$(RUN) mypy langchain_vllm tests scripts

test: install
	$(PYTEST_UNIT)

# The unit suite against the floors pyproject.toml declares (lowest-direct: every direct
# dependency, test tools included, at its lowest allowed version) and against the newest
# versions allowed, each in a throw-away venv; uv.lock is neither read nor rewritten.
DEPS_SHOWN := langchain-core langchain-openai openai httpx httpx2 pydantic langchain langsmith
test-deps: uv
	@for resolution in lowest-direct highest; do \
	  venv=.venv-$${resolution%-direct}; \
	  $(UV) venv --quiet --clear --python $(PYTHON) $$venv || exit 1; \
	  $(UV) pip install --quiet --python $$venv/bin/python --resolution $$resolution \
	    -e . --group test || exit 1; \
	  printf '== %s:' "$$resolution"; \
	  $(UV) pip list --python $$venv/bin/python 2>/dev/null | \
	    awk 'BEGIN { split("$(DEPS_SHOWN)", want, " "); for (i in want) keep[want[i]] = 1 } \
	         ($$1 in keep) { printf " %s %s", $$1, $$2 } END { print "" }'; \
	  $$venv/bin/python -m pytest tests/unit_tests --disable-socket --allow-unix-socket \
	    -q -p no:cacheprovider || exit 1; \
	done

integration_tests: install server-start
	$(RUN) pytest tests/integration_tests --record-mode=all

check: lint type test test-deps integration_tests

demo: install
	$(LAUNCHER) start chat
	$(RUN) python scripts/demo.py

record: install
	@test -z "$$VLLM_BASE_URL" || { echo "make record records against the local server only: unset VLLM_BASE_URL"; exit 2; }
	$(LAUNCHER) start
	VLLM_RECORD_CASSETTES=1 $(RUN) pytest tests/integration_tests/test_chat_models_standard.py --record-mode=all

bench: install server-start
	$(RUN) python scripts/bench.py

docs: install server-start
	$(RUN) python -m tests.doc_pages --write

doctor: install
	$(RUN) python -m langchain_vllm doctor

server-start:
	@if [ -n "$$VLLM_BASE_URL" ]; then echo "VLLM_BASE_URL is set: using $$VLLM_BASE_URL"; else $(LAUNCHER) start; fi

server-stop:
	$(LAUNCHER) stop

server-status:
	$(LAUNCHER) status

clean:
	rm -rf .venv .venv-lowest .venv-highest .mypy_cache .ruff_cache .pytest_cache
