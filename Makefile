# gdhttp: the three commands (demo, test, bench) and what they stand on (setup, build).
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.setup-stamp

.PHONY: setup build addon test lint demo bench fuzz screenshot clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup.sh
	scripts/setup.sh
	touch $(STAMP)

# The addon with its own CPython runtime, in addons/gdhttp/bin/ (every engine test uses it).
build: setup
	$(PY) -m gdhttp.gdnative.build

# The one shippable archive: dist/gdhttp-<version>-linux-x86_64.zip.
addon: setup build
	$(PY) -m gdhttp.addon build

lint: setup
	$(VENV)/bin/ruff check src tests bench devserver
	$(VENV)/bin/mypy

# pytest exits 5 when it collects nothing; that is not a failure of the tree.
# Everything runs on Debian 12's Godot 3.2.3; then every engine and editor test again on
# Godot 3.6 (Debian 13's godot3-server and godot3 editor, fetched privately by
# scripts/engines.sh; a failed fetch fails the target).
test: setup build lint
	$(PY) -m pytest -q; rc=$$?; if [ $$rc -ne 0 ] && [ $$rc -ne 5 ]; then exit $$rc; fi
	server="$$(scripts/engines.sh)" && editor="$$(scripts/engines.sh editor)" && \
	GDHTTP_GODOT="$$server" GDHTTP_GODOT_EDITOR="$$editor" $(PY) -m pytest -q -m "engine or editor"; \
	rc=$$?; if [ $$rc -eq 5 ]; then exit 0; else exit $$rc; fi

demo: setup build
	scripts/demo.sh

bench: setup build
	$(PY) -m bench

screenshot: setup build
	scripts/screenshot.sh

fuzz: setup
	GDHTTP_FUZZ_EXAMPLES=$${GDHTTP_FUZZ_EXAMPLES:-200000} $(PY) -m pytest -q tests/test_fuzz.py -p no:timeout

clean:
	rm -rf addons/gdhttp/bin src/gdhttp/gdnative/_build dist .mypy_cache .ruff_cache .pytest_cache

# docs/editor-dock.png: the editor's HTTP dock under Xvfb (scripts/dock_screenshot.sh).
.PHONY: dock-screenshot
dock-screenshot: setup build
	scripts/dock_screenshot.sh
