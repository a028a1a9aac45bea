# mfnn — every target sets up .venv by itself on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The CPU build of torch goes in first where no torch is installed (a bare `torch` pulls a multi-GB CUDA
# build). GPU users: install the CUDA torch you want into .venv first, or run `make install TORCH_SPEC=torch`.
TORCH_SPEC ?= torch==2.13.0
export PYTHONUNBUFFERED := 1
# OpenMP threads sleep instead of spinning while they wait: on a small CPU shared with other jobs, spinning
# threads made tiny-model steps 10-100x slower (measured on 2 cores).
export OMP_WAIT_POLICY ?= PASSIVE

.DEFAULT_GOAL := help
.PHONY: help install test test-all replicate-grokking replicate-grokking-transformer replicate-self-consistency \
        replicate-attention replicate-first-order replicate-deep replicate-phase-transitions replicate-modular-posterior replicate-all bench clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[36m%-32s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install mfnn with its dependencies (CPU torch if none)

test: $(STAMP) ## Fast tests (what CI runs)
	$(PY) -m pytest -m "not slow" -q

test-all: $(STAMP) ## All tests, slow ones included
	$(PY) -m pytest -q

replicate-grokking: $(STAMP) ## Grokking on modular addition, Gromov MLP route (CPU, main job)
	$(PY) replications/grokking/run.py

replicate-grokking-transformer: $(STAMP) ## Nanda et al. one-layer transformer with progress measures, seeds 0-2 (GPU config)
	$(PY) replications/grokking/run_transformer.py

replicate-self-consistency: $(STAMP) ## Mean-field neuron cloud and foreground self-consistency
	$(PY) replications/self_consistency/run.py

replicate-attention: $(STAMP) ## Positional vs semantic phase transition in dot-product attention
	$(PY) replications/attention/run.py

replicate-first-order: $(STAMP) ## Langevin posterior: grokking as a first-order transition (Rubin et al.)
	$(PY) replications/first_order/run.py

replicate-sample-complexity: $(STAMP) ## Samples to learn the cubic teacher: Langevin erf network vs its NNGP, n*(d) exponents
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(PY) replications/first_order/sample_complexity.py

replicate-deep: $(STAMP) ## Deep MLP: mean-field vs lazy feature learning at depth 3
	$(PY) replications/deep/run.py

replicate-phase-transitions: $(STAMP) ## Phase-transition toolkit calibrated on 2D Ising (Onsager) and Curie-Weiss
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(PY) replications/phase_transitions/run.py
replicate-modular-posterior: $(STAMP) ## Modular-addition posterior: mean-field theory vs Langevin-sampled networks
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(PY) replications/modular_posterior/run.py

replicate-all: replicate-grokking replicate-self-consistency replicate-attention replicate-first-order replicate-deep replicate-phase-transitions replicate-modular-posterior ## Every CPU replication

test-tl: ## TransformerLens bridge tests in their own .venv-tl (mfnn[tl] adds ~440 MiB, so not in `make test`)
	@test -x .venv-tl/bin/python || $(PYTHON) -m venv .venv-tl
	@.venv-tl/bin/python -c "import torch" 2>/dev/null || .venv-tl/bin/python -m pip install -q "$(TORCH_SPEC)"
	.venv-tl/bin/python -m pip install -q -e '.[dev,tl]'
	.venv-tl/bin/python -m pytest -q tests/test_transformer_lens.py

bench: $(STAMP) ## Speed against plain PyTorch loops
	$(PY) bench/run.py

clean: ## Remove run outputs (keeps .venv)
	rm -rf runs lightning_logs wandb .pytest_cache
