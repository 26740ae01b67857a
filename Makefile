# langchain-vllm developer commands. Everything installs what it needs: a fresh machine only
# needs python3 and pip. `make demo` and `make check` are the two entry points.
.PHONY: all help uv install format lint type test test-deps integration_tests check demo record \
        server-start server-stop server-status bench doctor docs clean \
        servers-0.16-background integration_tests_0.16

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
	@echo "make integration_tests_0.16  the version-sensitive tests against a local vLLM 0.16"
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

# The servers every integration test file may use, started (or found running) first; the
# families and gpt-oss servers (about 5 GB together) are started in the background once the
# vLLM 0.16 pass has stopped its servers (their tests' fixtures wait for them, or start them),
# so the 0.16 servers and these two never hold memory at the same time.
CORE_SERVERS := chat embed reason replica router
ON_DEMAND_SERVERS := families gpt_oss
MEMORY := $(PYTHON) scripts/lowest_memory.py

# The tests of the servers bound to the last CPU (families, reasoning, embeddings; the scripted
# standard suite of the families server) run beside the rest, whose chat, replica and router
# servers compute on the other CPUs; their output follows the main run's. The families and
# gpt-oss servers are stopped when they are done: the servers later tests start of their own
# (test_reliability, test_server_changes) then find their memory.
SIDE_TESTS := tests/integration_tests/test_families.py \
              tests/integration_tests/test_chat_models_scripted.py::TestQwen3CoderScripted \
              tests/integration_tests/test_chat_models_reasoning.py \
              tests/integration_tests/test_embeddings.py \
              tests/integration_tests/test_rerank.py

integration_tests: install
	@if [ -z "$$VLLM_BASE_URL" ]; then $(LAUNCHER) start $(CORE_SERVERS); fi
	@side_log=$$(mktemp); \
	( $(RUN) pytest $(SIDE_TESTS) -p no:cacheprovider --record-mode=all; tests=$$?; \
	  $(LAUNCHER) stop $(ON_DEMAND_SERVERS); exit $$tests ) > $$side_log 2>&1 & side=$$!; \
	$(MEMORY) "vLLM 0.32 pass" -- $(RUN) pytest tests/integration_tests --record-mode=all \
	  $(foreach test,$(SIDE_TESTS),--deselect $(test)); main=$$?; \
	wait $$side; side=$$?; \
	echo "== vLLM 0.32, beside the main run: $(SIDE_TESTS)"; cat $$side_log; rm -f $$side_log; \
	test $$main -eq 0 && test $$side -eq 0

# The version-sensitive integration tests once more, against a real vLLM 0.16: the launcher's
# group "0.16" (chat-0.16, reason-0.16, embed-0.16 on :8016-8018; their own venv, about 8 GB).
# `make check` starts installing and starting them in the background before anything else, so
# the install (4-7 min) and the start (about 2 min) overlap lint, types and the unit tests;
# the pass itself waits for them (each test's fixture starts, or waits for, the server it
# needs), runs the chat-server files and the reasoning/embedding files side by side (their
# servers are bound to different cores), and stops the 0.16 servers before the current
# vLLM's pass. Tests marked version_independent (client processes, sockets, the demo, what the
# 135M model cannot do) run once, in the current pass. With VLLM_BASE_URL set (your own server)
# it is skipped.
OLD_VLLM := 0.16
LAUNCHER_HOME := $(or $(LANGCHAIN_VLLM_HOME),$(HOME)/.cache/langchain-vllm)
OLD_START_LOG := $(LAUNCHER_HOME)/logs/start-$(OLD_VLLM).log
ON_DEMAND_LOG := $(LAUNCHER_HOME)/logs/start-on-demand.log
OLD_CHAT_TESTS := tests/integration_tests/test_chat_models_standard.py \
                  tests/integration_tests/test_chat_models_vllm.py \
                  tests/integration_tests/test_chat_models.py \
                  tests/integration_tests/test_llms.py
# LangChain's streaming benchmark (a 256-token story, about 2 minutes on 0.16) times the client,
# not the server; the standard suite forbids marking it, so it is deselected by name.
STREAM_BENCHMARK := tests/integration_tests/test_chat_models_standard.py::TestChatVLLMStandard::test_stream_time
OLD_OTHER_TESTS := tests/integration_tests/test_chat_models_reasoning.py \
                   tests/integration_tests/test_embeddings.py \
                   tests/integration_tests/test_rerank.py

# A second `make check` finds the families and gpt-oss servers of the first still up: they
# are stopped first (the 0.16 pass starts them again), so the memory budget holds every time.
servers-0.16-background:
	@if [ -z "$$VLLM_BASE_URL" ]; then \
	  $(LAUNCHER) stop $(ON_DEMAND_SERVERS) > /dev/null || true; \
	  mkdir -p $(LAUNCHER_HOME)/logs; \
	  echo "vLLM $(OLD_VLLM): installing and starting its servers in the background (log: $(OLD_START_LOG))"; \
	  nohup $(LAUNCHER) start $(OLD_VLLM) >> $(OLD_START_LOG) 2>&1 < /dev/null & \
	fi

integration_tests_0.16: install servers-0.16-background
	@if [ -n "$$VLLM_BASE_URL" ]; then \
	  echo "VLLM_BASE_URL is set: the vLLM $(OLD_VLLM) pass (local servers only) is skipped"; exit 0; \
	fi; \
	eval "$$($(LAUNCHER) env $(OLD_VLLM))"; \
	other_log=$$(mktemp); \
	$(RUN) pytest $(OLD_OTHER_TESTS) -p no:cacheprovider > $$other_log 2>&1 & other=$$!; \
	$(MEMORY) "vLLM $(OLD_VLLM) pass" -- $(RUN) pytest $(OLD_CHAT_TESTS) -m "not version_independent" \
	  -p no:cacheprovider --deselect $(STREAM_BENCHMARK) --record-mode=all; chat=$$?; \
	wait $$other; other=$$?; \
	echo "== vLLM $(OLD_VLLM): $(OLD_OTHER_TESTS)"; cat $$other_log; rm -f $$other_log; \
	$(LAUNCHER) stop $(OLD_VLLM); \
	echo "starting $(ON_DEMAND_SERVERS) in the background (log: $(ON_DEMAND_LOG))"; \
	nohup $(LAUNCHER) start $(ON_DEMAND_SERVERS) >> $(ON_DEMAND_LOG) 2>&1 < /dev/null & \
	test $$chat -eq 0 && test $$other -eq 0

check: servers-0.16-background lint type test test-deps integration_tests_0.16 integration_tests

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
	$(LAUNCHER) stop $(OLD_VLLM)

server-status:
	$(LAUNCHER) status

clean:
	rm -rf .venv .venv-lowest .venv-highest .mypy_cache .ruff_cache .pytest_cache
