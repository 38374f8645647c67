# The two commands of the README:
#   make demo   set up .venv (first time ~10 min), generate the demo scenes, pretrain MLS on CPU,
#               then summarise what it learned (kNN mAP, pseudo-label precision, curves)
#   make test   set up .venv if needed, lint, run the whole test suite
PY := .venv/bin/python

.PHONY: setup demo test lint format

setup:
	bash tools/install.sh

demo: setup
	# the demo config's scale (240 + 60 images at 96 px) until it is re-tuned to the full set
	$(PY) tools/generate_demo_scenes.py --out-dir data/demo_scenes --num-train 240 --num-val 60 \
		--img-size 96
	$(PY) tools/train.py configs/mls/mls_resnet18_1xb32-coslr-50e_demo-scenes_monitors.py \
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
