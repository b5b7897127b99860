# ssvae: `make demo` (install, get data, train) and `make test` (install, run the tests).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# torch/torchvision pair; override e.g. TORCH_SPEC="torch torchvision" on other machines
ARCH := $(shell uname -m)
ifeq ($(ARCH),aarch64)
TORCH_SPEC ?= torch==2.9.1 torchvision==0.24.1
else
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
endif
FMNIST_DIR := /usr/share/datasets/fashion-mnist
PYTEST_ARGS ?=

.PHONY: install data demo demo-vae test test-all benchmark clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH_SPEC)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# Fashion-MNIST from Debian's package where apt exists and we are root; else torchvision downloads it.
data:
	@if [ -d $(FMNIST_DIR) ]; then echo "Fashion-MNIST: $(FMNIST_DIR)"; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist; \
	else echo "Fashion-MNIST not installed system-wide; ssvae will download it (needs a network)"; fi

# M2 with 100 labels on Fashion-MNIST: a few minutes on 2 CPU cores
demo: install data
	rm -rf runs/demo
	$(VENV)/bin/ssvae train --model m2 --out runs/demo --dataset fashion-mnist --labels 100 --epochs 5
	@echo "pictures: runs/demo/analogies.png runs/demo/samples.png runs/demo/confusion.png runs/demo/latent.png"

# the VAE of the README's results table, at 10 epochs
demo-vae: install data
	rm -rf runs/demo-vae
	$(VENV)/bin/ssvae train --out runs/demo-vae --dataset fashion-mnist --epochs 10 --z-dim 50 --hidden 400 --iwae-k 100
	@echo "pictures: runs/demo-vae/reconstructions.png runs/demo-vae/samples.png runs/demo-vae/learning_curves.png"

test: install data
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

test-all: install data
	$(PY) -m pytest $(PYTEST_ARGS)

benchmark: install data
	$(PY) benchmarks/vae_throughput.py
	$(PY) benchmarks/m2_throughput.py

clean:
	rm -rf $(VENV) runs build src/*.egg-info .pytest_cache
