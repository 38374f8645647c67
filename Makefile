# The two commands of the README:
#   make demo   set up .venv (first time ~10 min), generate the demo scenes, pretrain MLS on CPU,
#               then summarise what it learned (kNN mAP, pseudo-label precision, curves)
#   make test   set up .venv if needed, lint, run the whole test suite
PY := .venv/bin/python

.PHONY: setup demo test lint format

setup:
	bash tools/install.sh

demo: setup
	$(PY) tools/generate_demo_scenes.py --out-dir data/demo_scenes
	$(PY) tools/train.py configs/mls/mls_resnet18_1xb32-coslr-20e_demo-scenes-48px.py \
		--work-dir work_dirs/demo $(ARGS)
	$(PY) tools/analysis/summarize_run.py work_dirs/demo --curves work_dirs/demo/curves.png

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

test: lint
	$(PY) -m pytest -q $(ARGS)

format: setup
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .
