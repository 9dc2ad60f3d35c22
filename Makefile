# The two quick-start commands: `make serve` and `make test`.
# Both create .venv and install what is needed first; re-running is cheap.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install serve test browser clean

install: $(VENV)/.installed

# torch is pinned and installed first: the CPU wheel on this machine's disk,
# instead of the multi-GB CUDA build an unpinned resolve would pull.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

serve: install
	$(BIN)/docent serve

# Browser tests drive Debian's Chromium through Playwright (no browser download).
browser:
	@[ -x $(CHROMIUM) ] || ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium)

SHARED ?= ../shared

# The whole suite, then the retrieval regression gate on the dev suite.
test: install browser
	$(BIN)/python -m pytest -q
	@if [ -d $(SHARED)/eval/dev ]; then \
	  $(BIN)/docent eval $(SHARED)/eval/dev --records $(SHARED)/corpus/records.jsonl --check --quiet; \
	else echo "no $(SHARED)/eval/dev: retrieval gate skipped"; fi

clean:
	rm -rf $(VENV) *.egg-info test-artifacts
