# forethought: `make demo` and `make test` work on a fresh machine with only Python 3.11.
# They create .venv if it is missing and install what they need. torch is pinned so a CPU
# machine takes the local CPU wheel instead of a multi-GB CUDA build.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
TORCH  ?= torch==2.13.0
STAMP  := $(VENV)/.installed
export MUJOCO_GL ?= egl
export HF_HUB_OFFLINE ?= 1

.PHONY: install test test-slow demo bench lint format clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check "$(TORCH)"
	$(BIN)/python -m pip install -q --disable-pip-version-check -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

test: $(STAMP)  ## the fast tier: unit, contract checkers, CLI smoke
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)  ## the slow tier: learning checks
	$(BIN)/python -m pytest -q -m slow

demo: $(STAMP)  ## the main job end to end: collect, train, evaluate, plan, report (TwoRoom)
	rm -rf runs/quickstart/run
	$(BIN)/forethought quickstart --out runs/quickstart

bench: $(STAMP)  ## benchmarks (results in benchmarks/results/)
	$(BIN)/python benchmarks/bench_sampler.py
	$(BIN)/python benchmarks/bench_train.py
	$(BIN)/python benchmarks/bench_tworoom_planning.py --pairs 200 --out benchmarks/results/tworoom_planning_ceiling.json

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
