# modelserve: `make serve` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
HTTP_PORT ?= 9000

.PHONY: venv serve test lint typecheck unit conformance protos clean bench bench-quick bench-batching profile clients-venv \
	dist smoke extras bench-latency bench-payload bench-startup upi-client-venv fuzz

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "modelserve needs Python 3.11+"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

## the load generators of the bench (its tests run in make test) and the profiler
BENCH_TOOLS := $(VENV)/.bench-tools
$(BENCH_TOOLS): $(STAMP)
	command -v wrk >/dev/null && command -v h2load >/dev/null || \
		{ apt-get update && apt-get install -y wrk nghttp2-client; }
	$(BIN)/python -m pip install --quiet py-spy
	touch $(BENCH_TOOLS)

## tritonclient and kserve for tests/clients (their protobuf pin is older than ours: own venv)
CLIENTS := .venvs/clients
CLIENT_PACKAGES := tritonclient[http,grpc]==2.73.0 kserve==0.21.0
$(CLIENTS)/.installed: $(STAMP)
	test -x $(CLIENTS)/bin/python || $(BIN)/python -m venv $(CLIENTS)
	$(CLIENTS)/bin/python -m pip install --quiet --disable-pip-version-check '$(word 1,$(CLIENT_PACKAGES))' '$(word 2,$(CLIENT_PACKAGES))'
	touch $@

clients-venv: $(CLIENTS)/.installed

## caraml-upi-protos' generated stubs, the UPI client a Merlin user has (tests/merlin call the server with them)
UPI_CLIENT := .venvs/upi
UPI_PACKAGES := caraml-upi-protos==1.0.0 grpcio grpcio-health-checking grpcio-reflection
$(UPI_CLIENT)/.installed: $(STAMP)
	test -x $(UPI_CLIENT)/bin/python || $(BIN)/python -m venv $(UPI_CLIENT)
	$(UPI_CLIENT)/bin/python -m pip install --quiet --disable-pip-version-check $(UPI_PACKAGES)
	touch $@

upi-client-venv: $(UPI_CLIENT)/.installed

## serve the bundled example model (an iris classifier) on $(HTTP_PORT)
serve: venv
	@echo "Serving examples/iris/IrisClassifier on port $(HTTP_PORT). Try, from another shell:"
	@echo "  curl -s localhost:$(HTTP_PORT)/api/v1.0/predictions -H 'Content-Type: application/json' \\"
	@echo "       -d '{\"data\": {\"ndarray\": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}}'"
	cd examples/iris && exec $(BIN)/modelserve serve IrisClassifier --http-port $(HTTP_PORT)

## lint, type-check, every test; then the package as users install it: the wheel and the
## sdist, and the smoke test and the conformance suites against the installed wheel
test: venv lint typecheck unit dist smoke conformance extras

lint: venv
	$(BIN)/ruff check modelserve tests bench scripts examples
	$(BIN)/python protos/build.py --check

typecheck: venv
	$(BIN)/mypy modelserve

## tools the tests start: a real Prometheus push gateway (tests/workers/test_pushgateway.py)
TEST_TOOLS := $(VENV)/.test-tools
$(TEST_TOOLS): $(STAMP)
	command -v prometheus-pushgateway >/dev/null || \
		{ apt-get update && apt-get install -y prometheus-pushgateway; }
	touch $(TEST_TOOLS)

## tools of tests/build: buildah builds an image (vfs storage, chroot isolation), mmdebstrap its Debian base
BUILD_TOOLS := $(VENV)/.build-tools
$(BUILD_TOOLS): $(STAMP)
	command -v buildah >/dev/null && command -v mmdebstrap >/dev/null || \
		{ apt-get update && apt-get install -y buildah mmdebstrap; }
	touch $(BUILD_TOOLS)

unit: venv $(BENCH_TOOLS) $(TEST_TOOLS) $(BUILD_TOOLS) clients-venv upi-client-venv
	$(BIN)/pytest -q

## The fuzzers of tests/fuzz at length (about an hour on 2 cores): hypothesis's "long"
## profile (thousands of random cases per test, a new draw on every run, failures kept in
## .hypothesis/ and tried first next time) and schemathesis with its coverage phase and 300
## cases per operation. `make test` runs them bounded and repeatable (the "ci" profile).
fuzz: venv
	HYPOTHESIS_PROFILE=long $(BIN)/pytest tests/fuzz -q

## The package as users get it. The wheel and the sdist must hold every file of modelserve/
## (scripts/check_dist.py); clean venvs that are not the development one install them:
## .venvs/wheel (the wheel, which the smoke test and the conformance suites run against),
## .venvs/extra-NAME (the wheel with one extra, for every extra of pyproject.toml) and
## .venvs/readme (the README's `pip install .`). Each is made anew when a file of the
## package changes. The pythons run with -I from another folder, so that the source tree's
## modelserve/ cannot stand in for the installed one.
DIST := dist
WHEEL_VENV := .venvs/wheel
README_VENV := .venvs/readme
PACKAGE_FILES := pyproject.toml README.md $(shell find modelserve -not -path '*/__pycache__*' -not -name '*.py[co]')
EXTRAS = $(shell $(PYTHON) -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project'].get('optional-dependencies', {}))")
ELSEWHERE := $${TMPDIR:-/tmp}

# setuptools adds what an old modelserve.egg-info/SOURCES.txt lists to what it builds:
# without it, a data file that the configuration forgets cannot slip in from an earlier build.
$(DIST)/.built: $(STAMP) $(PACKAGE_FILES)
	rm -rf $(DIST) build modelserve.egg-info
	$(BIN)/python -m build --quiet --outdir $(DIST) . >/dev/null
	$(BIN)/python scripts/check_dist.py $(DIST)
	touch $@

dist: $(DIST)/.built

$(WHEEL_VENV)/.installed: $(DIST)/.built
	rm -rf $(WHEEL_VENV)
	$(PYTHON) -m venv $(WHEEL_VENV)
	$(WHEEL_VENV)/bin/python -m pip install --quiet --no-compile $(DIST)/*.whl
	touch $@

.venvs/extra-%/.installed: $(DIST)/.built
	rm -rf .venvs/extra-$*
	$(PYTHON) -m venv .venvs/extra-$*
	.venvs/extra-$*/bin/python -m pip install --quiet --no-compile "modelserve[$*] @ file://$(CURDIR)/$$(ls $(DIST)/*.whl)"
	.venvs/extra-$*/bin/python -m pip check
	cd $(ELSEWHERE) && $(CURDIR)/.venvs/extra-$*/bin/python -I -c 'import modelserve.cli' \
		&& $(CURDIR)/.venvs/extra-$*/bin/modelserve --version
	touch $@

## `pip install 'modelserve[NAME]'` of the wheel, each extra in a clean venv of its own
extras: $(foreach extra,$(EXTRAS),.venvs/extra-$(extra)/.installed)

$(README_VENV)/.installed: $(PACKAGE_FILES)
	grep -qx 'pip install \.' README.md || { echo "README.md no longer says 'pip install .': update this check"; exit 1; }
	rm -rf $(README_VENV) build modelserve.egg-info
	$(PYTHON) -m venv $(README_VENV)
	. $(README_VENV)/bin/activate && pip install --quiet --no-compile .
	rm -rf build
	touch $@

## REST, gRPC and metrics of a real server run by the installed wheel and by `pip install .`
smoke: $(WHEEL_VENV)/.installed $(README_VENV)/.installed
	cd $(ELSEWHERE) && $(CURDIR)/$(WHEEL_VENV)/bin/python -I $(CURDIR)/scripts/smoke.py
	cd $(ELSEWHERE) && $(CURDIR)/$(README_VENV)/bin/python -I $(CURDIR)/scripts/smoke.py

## Merlin's suite runs by the wheel with the mlflow extra and caraml-upi-protos, which its
## models import as a Merlin user's models do
MERLIN_VENV := .venvs/merlin
$(MERLIN_VENV)/.installed: $(DIST)/.built
	rm -rf $(MERLIN_VENV)
	$(PYTHON) -m venv $(MERLIN_VENV)
	$(MERLIN_VENV)/bin/python -m pip install --quiet --no-compile \
		"modelserve[mlflow] @ file://$(CURDIR)/$$(ls $(DIST)/*.whl)" caraml-upi-protos==1.0.0
	touch $@

## the conformance suites, run by the installed wheel (CONFORMANCE_VENV=.venv: by the source tree)
CONFORMANCE_VENV ?= $(WHEEL_VENV)
CONFORMANCE_PYTHON := $(CURDIR)/$(CONFORMANCE_VENV)/bin/python
MERLIN_CONFORMANCE_VENV := $(if $(filter $(WHEEL_VENV),$(CONFORMANCE_VENV)),$(MERLIN_VENV),$(CONFORMANCE_VENV))
conformance: $(CONFORMANCE_VENV)/.installed $(MERLIN_CONFORMANCE_VENV)/.installed
	$(CONFORMANCE_PYTHON) -I scripts/conformance.py seldon --transports rest,startup,grpc,process,metrics
	$(CONFORMANCE_PYTHON) -I scripts/conformance.py v2
	$(CURDIR)/$(MERLIN_CONFORMANCE_VENV)/bin/python -I scripts/conformance.py merlin

## the mlflow extra, for the bench's `modelserve serve --model-dir` rows (the same MLflow models as Merlin's)
BENCH_MLFLOW := $(VENV)/.bench-mlflow
$(BENCH_MLFLOW): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[mlflow]'
	touch $(BENCH_MLFLOW)

## benchmarks against the peers (bench/run.py; each peer is installed into bench/.venvs/<peer>);
## the report starts with issue 15's summary (best peer and ceiling in the same run)
bench: venv $(BENCH_TOOLS) $(BENCH_MLFLOW)
	$(BIN)/python -m bench.run

bench-quick: venv $(BENCH_TOOLS) $(BENCH_MLFLOW)
	$(BIN)/python -m bench.run --quick

## p50/p99 at 50 % and 90 % of each row's own maximum, open loop (bench/latency.py)
bench-latency: venv $(BENCH_TOOLS) $(BENCH_MLFLOW)
	$(BIN)/python -m bench.run --latency --workloads W1,W3 --workers 1 --duration 5 --reps 2

## req/s against payload size, 4 to 1,000,000 floats, per protocol; a PNG in bench/results (bench/payload.py)
bench-payload: venv $(BENCH_TOOLS) $(BENCH_MLFLOW)
	$(BIN)/python -m bench.run --payload --duration 5 --warmup 2 --reps 2

## seconds from launch to health, iris example and a 500 MB model (bench/startup.py)
bench-startup: venv $(BENCH_MLFLOW)
	$(BIN)/python -m bench.run --startup --reps 3

## the sklearn forest at 64 connections, modelserve with and without --max-batch-size (bench/batching.py)
bench-batching: venv $(BENCH_TOOLS)
	$(BIN)/python -m bench.run --batching

profile: venv $(BENCH_TOOLS)
	$(BIN)/python -m bench.profiling

clean:
	rm -rf $(VENV) .venvs $(DIST) build .pytest_cache .mypy_cache .ruff_cache .hypothesis
