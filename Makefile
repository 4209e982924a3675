# The two commands of the README:
#   make demo   set everything up, then encode and decode a real photo
#   make test   set everything up, then run the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SHARED ?= ../shared
DEMO_IMAGE ?= $(SHARED)/data/kodak/kodim23.png
OUT ?= out

.PHONY: setup demo test docs clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

demo: setup
	@test -f "$(DEMO_IMAGE)" || { echo "demo photo $(DEMO_IMAGE) not found: put the shared data beside the checkout or set DEMO_IMAGE=photo.png"; exit 1; }
	$(VENV)/bin/icm-enc -i $(DEMO_IMAGE) -o $(OUT)/demo.icm --tool vvc-image --qp 37
	$(VENV)/bin/icm-dec -i $(OUT)/demo.icm -o $(OUT)/demo.png

test: setup
	$(PY) -m pytest -q tests

docs: setup
	$(PY) -m icm.common.syntax.docgen

clean:
	rm -rf $(OUT) .pytest_cache
