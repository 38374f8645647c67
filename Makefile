# The README's commands:
#   make demo       set up .venv for pretraining (first time ~2 min, no compiled mmcv ops), generate
#                   the demo scenes, pretrain MLS on CPU, summarise what it learned (~10 min in all)
#   make test       set up the full .venv (mmcv with compiled ops, first time ~7 min), lint, and run
#                   the fast tests (everything but the end-to-end runs marked `slow`; ~5 min)
#   make test-all   the same with every test, the slow end-to-end runs included (~16 min; CI)
#   make setup-full the full .venv alone: what detection and segmentation fine-tuning need
PY := .venv/bin/python

.PHONY: setup setup-full demo test test-all lint format

setup:
	bash tools/install.sh

setup-full:
	bash tools/install.sh --full

demo: setup
	$(PY) tools/generate_demo_scenes.py --out-dir data/demo_scenes
	@# 2 torch threads on every machine: oneDNN splits its sums by thread, so another count
	@# makes the same seed another run (docs/demo.md, "What a newcomer sees").
	OMP_NUM_THREADS=2 $(PY) tools/train.py configs/mls/small_scale/mls_resnet18_1xb32-coslr-20e_demo-scenes-48px.py \
		--work-dir work_dirs/demo $(ARGS)
	$(PY) tools/analysis/summarize_run.py work_dirs/demo --curves work_dirs/demo/curves.png

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

test: setup-full lint
	$(PY) -m pytest -q -m "not slow" $(ARGS)

test-all: setup-full lint
	$(PY) -m pytest -q $(ARGS)

format: setup
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .
