# modpipe — the README's two set-up commands are `make demo` and `make test`.
# Everything installs into .venv with pip (torch 2.14.1 + torchvision 0.29.1 first).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.modpipe-installed
PYTEST_ARGS ?=

.PHONY: install system-deps demo test test-fast schema clean
.PHONY: bench-batch bench-tune bench-serve bench-likeness bench-scan
.PHONY: tune-encoder train-heads eval-gate bench-gate probe-gate probe-long probe-obfuscation

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet torch==2.14.1 torchvision==0.29.1
	$(PIP) install --quiet -e '.[test]'
	@touch $@

# espeak-ng makes real speech for the test videos; Apertium translates prompts in Spanish, French,
# Portuguese, Italian, Catalan and Romanian for the gate (modpipe.text.translate; without it they
# are scored as written).
# Installed with apt when missing (root only).
APERTIUM := apertium apertium-eng-spa apertium-fr-es apertium-es-pt apertium-spa-ita apertium-eng-cat apertium-es-ro cg3
system-deps:
	@command -v espeak-ng >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null; \
	  else echo "espeak-ng missing: sudo apt-get install espeak-ng" >&2; exit 1; fi; }
	@dpkg -s $(APERTIUM) >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APERTIUM) >/dev/null; \
	  else echo "Apertium missing (prompts in other languages are scored as written): sudo apt-get install $(APERTIUM)" >&2; fi; }

demo: install
	HF_HUB_OFFLINE=1 $(PY) -m modpipe.demo

test: install system-deps
	HF_HUB_OFFLINE=1 $(PY) -m pytest $(PYTEST_ARGS)

test-fast: install
	HF_HUB_OFFLINE=1 $(PY) -m pytest -m "not heavy and not ray" $(PYTEST_ARGS)

bench-scan: install system-deps
	HF_HUB_OFFLINE=1 $(PY) benchmarks/scan_bench.py

schema: install
	$(PY) -m modpipe.cli.main schema --out src/modpipe/schemas/decision.schema.json

bench-batch: install
	HF_HUB_OFFLINE=1 $(PY) benchmarks/batch_bench.py

bench-tune: install
	HF_HUB_OFFLINE=1 $(PY) benchmarks/tune_bench.py

# HTTP load benchmark on loopback (BENCH_ARGS="--duration 10" for a short run).
bench-serve: install
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; } || \
	  echo "wrk not installed: the benchmark falls back to a Python client (slower on 2 cores)" >&2
	HF_HUB_OFFLINE=1 $(PY) benchmarks/serve_load.py $(BENCH_ARGS)

bench-likeness: install
	HF_HUB_OFFLINE=1 $(PY) benchmarks/likeness_bench.py

# prompt gate: fine-tune MiniLM's top layers, then train the text heads, from ../shared/data (dev split) +
# models/training; evaluate with records and whole sources held out (tune-encoder ARGS=--compare: the tuned
# encoder against the base one on a 20% hold-out), and benchmark latency against the bare MiniLM forward pass
tune-encoder: install
	HF_HUB_OFFLINE=1 $(PY) -m modpipe.text.finetune $(ARGS)

train-heads: install
	HF_HUB_OFFLINE=1 $(PY) -m modpipe.text.train_heads

eval-gate: install
	HF_HUB_OFFLINE=1 $(PY) -m modpipe.text.evaluate

bench-gate: install
	HF_HUB_OFFLINE=1 $(PY) benchmarks/gate_bench.py

# gate accuracy on prompts and chat texts nobody tuned on (benchmarks/data/gate_probe.jsonl, chat_probe.jsonl)
probe-gate: install system-deps
	HF_HUB_OFFLINE=1 $(PY) benchmarks/gate_probe.py --misses
	HF_HUB_OFFLINE=1 $(PY) benchmarks/gate_probe.py --probe benchmarks/data/chat_probe.jsonl
	HF_HUB_OFFLINE=1 $(PY) benchmarks/gate_probe.py --probe benchmarks/data/short_probe.jsonl
	HF_HUB_OFFLINE=1 $(PY) benchmarks/gate_probe.py --probe benchmarks/data/tag_probe.jsonl
	HF_HUB_OFFLINE=1 $(PY) benchmarks/gate_probe.py --probe benchmarks/data/people_probe.jsonl
	HF_HUB_OFFLINE=1 $(PY) benchmarks/gate_probe.py --probe benchmarks/data/crime_probe.jsonl
	HF_HUB_OFFLINE=1 $(PY) benchmarks/gate_probe.py --probe benchmarks/data/suggestive_probe.jsonl
	HF_HUB_OFFLINE=1 $(PY) benchmarks/gate_probe.py --probe benchmarks/data/implicit_probe.jsonl
	HF_HUB_OFFLINE=1 $(PY) benchmarks/gate_probe.py --probe benchmarks/data/farewell_probe.jsonl
	HF_HUB_OFFLINE=1 $(PY) benchmarks/gate_probe.py --probe benchmarks/data/extremism_probe.jsonl
	HF_HUB_OFFLINE=1 $(PY) benchmarks/gate_probe.py --probe benchmarks/data/lang_probe.jsonl
	HF_HUB_OFFLINE=1 $(PY) benchmarks/gate_probe.py --probe benchmarks/data/lang_unread_probe.jsonl
	HF_HUB_OFFLINE=1 $(PY) benchmarks/gate_probe.py --probe benchmarks/data/emoji_probe.jsonl
	HF_HUB_OFFLINE=1 $(PY) benchmarks/gate_probe.py --probe benchmarks/data/emoji_only_probe.jsonl
	HF_HUB_OFFLINE=1 $(PY) benchmarks/gate_probe.py --probe benchmarks/data/algospeak_probe.jsonl
	HF_HUB_OFFLINE=1 $(PY) benchmarks/minors_label.py
	HF_HUB_OFFLINE=1 $(PY) benchmarks/gate_probe.py --probe benchmarks/data/stance_probe.jsonl
	HF_HUB_OFFLINE=1 $(PY) benchmarks/hatecheck.py
	HF_HUB_OFFLINE=1 $(PY) benchmarks/names_content.py --misses

# the same prompts written twenty-three obfuscated ways (benchmarks/gate_obfuscation.py)
probe-obfuscation: install
	HF_HUB_OFFLINE=1 $(PY) benchmarks/gate_obfuscation.py

# unsafe requests behind long harmless lead-ins, and long harmless texts (benchmarks/gate_long.py)
probe-long: install
	HF_HUB_OFFLINE=1 $(PY) benchmarks/gate_long.py

clean:
	rm -rf $(VENV) .pytest_cache
