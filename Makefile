# ACGS-2: `make run` starts the whole platform; `make test` runs the test suite on its own real stack.
SHELL := /bin/bash
PY := .venv/bin/python
VENV_STAMP := .venv/.installed
NODE_STAMP := contracts/node_modules/.installed

.PHONY: run test install system-deps bench unit clean help

help:
	@echo "make run    install what is missing, start Kafka+Postgres+Redis+gateway+workers (Ctrl-C stops all)"
	@echo "make test   install what is missing, run the tests against a separate local stack"
	@echo "make bench  run the benchmarks (bench/README section in README.md)"

system-deps:
	@bash infra/install-system-deps.sh

$(VENV_STAMP): pyproject.toml
	@test -x $(PY) || python3.11 -m venv .venv || python3 -m venv .venv
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -e '.[test]'
	@touch $(VENV_STAMP)

$(NODE_STAMP): contracts/package.json contracts/package-lock.json
	@if [ -f contracts/package-lock.json ]; then npm ci --prefix contracts --no-audit --no-fund --loglevel=error; fi
	@mkdir -p contracts/node_modules && touch $(NODE_STAMP)

install: system-deps $(VENV_STAMP) $(NODE_STAMP)
	@$(PY) -c "from infra.kafka import ensure_jars; from acgs.settings import get_settings; ensure_jars(get_settings().cache_dir)"

run: install
	@.venv/bin/acgs run

test: install
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests selected"; exit 0; fi; exit $$rc

unit: install
	@$(PY) -m pytest -m "not integration" $(PYTEST_ARGS); rc=$$?; [ $$rc -eq 5 ] && exit 0; exit $$rc

bench: install
	@bash infra/install-system-deps.sh --bench
	@$(PY) -m bench.run $(BENCH_ARGS)

clean:
	rm -rf .state .venv contracts/node_modules
