# Two commands from a fresh clone: `make demo` and `make test`. Both create .venv once and reuse it.
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test install bench clean

$(STAMP): pyproject.toml
	@test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/leukodet demo --out demo_out

test: $(STAMP)
	$(VPY) -m pytest tests

bench: $(STAMP)
	$(VPY) benchmarks/read_labels.py

clean:
	rm -rf demo_out .pytest_cache
