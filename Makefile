# Two commands for a fresh machine with Python 3.11+ and make:
#   make demo   install into .venv and analyze a bundled recording
#   make test   install into .venv and run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench install system-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[rtlsdr,handoff,dask,test]'
	touch $(STAMP)

install: $(STAMP)

# Debian packages the tests drive for real (rtl_tcp, mosquitto, ...): installed only where missing.
system-deps:
	@missing=$$(for p in $$(grep -v '^#' .ci/debian-packages.txt); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
		else echo "missing Debian packages (tests using them will skip): $$missing"; fi; \
	fi

demo: $(STAMP)
	$(BIN)/rfdetect analyze recordings/demo_868.h5

test: $(STAMP) system-deps
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/bench_core.py

clean:
	rm -rf $(VENV) build *.egg-info
