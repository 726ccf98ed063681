# The two commands of the README: `make demo` and `make test` (contributors add `make lint`).
# All set up a fresh venv (pinned requirements) on first use; nothing else needs installing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.lesionbench-installed
CORES ?= 2

.PHONY: setup sandbox-tool demo test lint dryrun report wheel clean

setup: $(STAMP) sandbox-tool

# Participants' commands run in bubblewrap (lesionbench.methods.sandbox); without it they are
# refused unless their entry says sandbox: none. Installed here when missing and we may (root
# with apt-get); otherwise this says what to run.
sandbox-tool:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap; \
	  else \
	    echo "bubblewrap (bwrap) is missing: participants' commands cannot run sandboxed;" \
	      "install it (sudo apt-get install bubblewrap, or sudo dnf install bubblewrap)"; \
	  fi; }

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/snakemake --cores $(CORES)

test: $(STAMP) sandbox-tool
	$(BIN)/pytest

# Python paths that ruff lints and format-checks; mypy reads its paths from pyproject.toml (src/).
PY_PATHS := src tests workflow/scripts benchmarks

lint: $(STAMP)
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check workflow
	$(BIN)/ruff check $(PY_PATHS)
	$(BIN)/ruff format --check $(PY_PATHS)
	$(BIN)/mypy

dryrun: $(STAMP)
	$(BIN)/snakemake -n --cores $(CORES)

report: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --report results/report.html

# lesionbench as a wheel in dist/, for the workflow's conda envs (`lesionbench==<version>`) where
# it is not on PyPI: PIP_FIND_LINKS=$PWD/dist snakemake --sdm conda ... (README: Conda and clusters)
wheel: $(STAMP)
	$(BIN)/pip wheel --quiet --no-deps --no-build-isolation -w dist .

clean:
	rm -rf results logs benchmarks/results .snakemake
