# Everything a fresh machine with Python 3.11+ and make needs.
# `make demo` / `make test` install the exact versions of requirements.lock (refresh it with
# `make lock`); `make test-latest` runs the suite against the newest releases pyproject.toml allows,
# so that drift shows up there first instead of in CI.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LATEST := .venv-latest
UV := uv==0.13.9
# Every Python process of make test (two pytest workers, a kernel per notebook, the CLI in
# subprocesses) imports numpy, pandas, scipy and matplotlib. uv installs them without compiled
# files, and with PYTHONDONTWRITEBYTECODE set (as on the CI machines) each process compiled them
# from source again: collecting the tests took 18 s instead of 5 s. Letting Python keep what it
# compiles costs nothing for modules never imported (uv's --compile-bytecode took 20 s more).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: demo test browser-test test-latest ruff lint bench lock clean figures

# uv installs the lock (hashes checked) in a fraction of pip's time: on this 2-core machine a
# fresh install took 39 s with uv against several minutes with pip, which would not leave
# `make test` within its 3 minutes.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "$(UV)"

$(STAMP): $(BIN)/python requirements.lock pyproject.toml
	$(BIN)/uv pip install --quiet --python $(BIN)/python --require-hashes -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/pkmodel simulate --params mildronate --dose "500 mg" --route iv --interval "12 h" --over "14 d" \
		--csv out/demo.csv --plot out/demo.png

# The README's gallery: docs/figures/*.png, drawn by pkmodel's own plot functions (headless).
figures: $(STAMP)
	MPLBACKEND=Agg $(BIN)/python figures/make_figures.py docs/figures

ruff: $(STAMP)
	$(BIN)/ruff check pkmodel tests benchmarks figures

# mypy takes about 25 s on one core from a cold cache: it runs in `make lint` (and in CI, .ci/run),
# not in `make test`, which keeps the suite within 3 minutes on a fresh 2-core machine.
lint: ruff
	$(BIN)/mypy pkmodel

test: ruff
	$(BIN)/python -m pytest -q -n auto

# The explorer notebook in JupyterLab under headless Chromium (Debian's package, installed here when
# missing; playwright only drives it): moves a slider and checks that the figure changed.
# JupyterLab and playwright come from their own lock, constrained to requirements.lock's versions.
$(VENV)/.browser: $(STAMP) requirements-browser.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --require-hashes -r requirements-browser.lock
	touch $@

browser-test: $(VENV)/.browser
	command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)
	$(BIN)/python tests/browser/explorer_in_jupyterlab.py

test-latest:
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --upgrade pip
	$(LATEST)/bin/python -m pip install --quiet --upgrade -e ".[dev]"
	$(LATEST)/bin/python -m pip freeze --exclude-editable | grep -iE '^(numpy|scipy|pandas|matplotlib)=='
	$(LATEST)/bin/ruff check pkmodel tests benchmarks
	$(LATEST)/bin/mypy pkmodel
	$(LATEST)/bin/python -m pytest -q -n auto -p no:cacheprovider

# Universal (every platform, Python 3.11+) with the fewest versions per package, hashes included.
lock: $(BIN)/python
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --fork-strategy fewest --python-version 3.11 \
		--generate-hashes --upgrade --quiet -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra browser --universal --fork-strategy fewest \
		--python-version 3.11 --generate-hashes --quiet -c requirements.lock -o requirements-browser.lock

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py
	$(BIN)/python benchmarks/agreement.py

clean:
	rm -rf $(VENV) $(LATEST) out .pytest_cache .hypothesis .mypy_cache
