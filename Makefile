# modelserve: `make serve` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
HTTP_PORT ?= 9000

.PHONY: venv serve test lint typecheck unit conformance protos clean bench bench-quick bench-batching profile clients-venv

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

## serve the bundled example model (an iris classifier) on $(HTTP_PORT)
serve: venv
	@echo "Serving examples/iris/IrisClassifier on port $(HTTP_PORT). Try, from another shell:"
	@echo "  curl -s localhost:$(HTTP_PORT)/api/v1.0/predictions -H 'Content-Type: application/json' \\"
	@echo "       -d '{\"data\": {\"ndarray\": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}}'"
	cd examples/iris && exec $(BIN)/modelserve serve IrisClassifier --http-port $(HTTP_PORT)

## lint, type-check, every test and the conformance suites
test: venv lint typecheck unit conformance

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

unit: venv $(BENCH_TOOLS) $(TEST_TOOLS) $(BUILD_TOOLS) clients-venv
	$(BIN)/pytest -q

conformance: venv
	$(BIN)/python scripts/conformance.py seldon --transports rest,startup,grpc,process,metrics
	$(BIN)/python scripts/conformance.py v2

## benchmarks against the peers (bench/run.py; each peer is installed into bench/.venvs/<peer>)
bench: venv $(BENCH_TOOLS)
	$(BIN)/python -m bench.run

bench-quick: venv $(BENCH_TOOLS)
	$(BIN)/python -m bench.run --quick

## the sklearn forest at 64 connections, modelserve with and without --max-batch-size (bench/batching.py)
bench-batching: venv $(BENCH_TOOLS)
	$(BIN)/python -m bench.run --batching

profile: venv $(BENCH_TOOLS)
	$(BIN)/python -m bench.profiling

clean:
	rm -rf $(VENV) $(CLIENTS) .pytest_cache .mypy_cache .ruff_cache
