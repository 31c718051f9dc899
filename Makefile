# Two entry points a fresh machine needs: `make run` and `make test`. Everything else is
# what they are made of. Only Python 3.11+ and make are assumed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
LG_VENV ?= .venv-labgrid
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q

.PHONY: run test test-twin test-twin-device test-althan test-labgrid images benchmark fuzz soak install install-test clean

run: $(VENV)/.installed
	$(VENV)/bin/hanbench run --bench bench/emu.toml

# pytest-xdist workers for `make test` (auto: one per core). `make test JOBS=0` runs in one process.
JOBS ?= auto

# Every test on the emu bench, then the conformance suite on the hardware code path, each
# spread over JOBS pytest-xdist workers (README: "Parallel runs").
test: $(VENV)/.installed-test
	$(PY) -m pytest -n $(JOBS)
	$(MAKE) --no-print-directory test-twin
	$(MAKE) --no-print-directory test-althan

# The conformance suite on the hardware code path (bellows and board ports on ptys).
test-twin: $(VENV)/.installed-test
	$(PY) -m pytest -n $(JOBS) tests/conformance --bench bench/twin.toml

# The device conformance suite on the hardware code path, sized for CI: every test on the ESME
# (all but two apply to it), and the two that only a GSME (the mirror flag) or a PPMID (SR 11.4)
# takes on that type. `pytest tests/device_conformance --bench bench/twin.toml` runs every type.
TWIN_DEVICE_TESTS := tests/device_conformance/test_device_ota_client.py tests/device_conformance/test_device_gbcs.py
test-twin-device: $(VENV)/.installed-test
	$(PY) -m pytest -n $(JOBS) $(TWIN_DEVICE_TESTS) --bench bench/twin.toml -k "esme or (sleepy and gsme) or (cs09 and ppmid)"

# The conformance suite on the Alt HAN premises (MP170 bridges under both options).
test-althan: $(VENV)/.installed-test
	$(PY) -m pytest -n $(JOBS) tests/conformance --bench bench/althan.toml

# A lab bench on a labgrid place, proven with a real coordinator and exporter on loopback
# (tests/labgrid_place; the exporter needs ser2net, `apt install ser2net`, or those tests skip), and
# the serial module contract on labgrid's pyserial fork. In a venv of its own, so that .venv
# stays the plain install the rest of the suite runs on.
test-labgrid: $(LG_VENV)/.installed-test
	$(LG_VENV)/bin/python -m pytest tests/labgrid_place tests/unit/hardware/test_serial_module.py

images: $(VENV)/.installed
	$(PY) firmware_images/make_images.py

benchmark: $(VENV)/.installed
	$(PY) benchmarks/ota_throughput.py

# Every decoder and parser fed random and mutated inputs: `make fuzz COUNT=100000 SEED=1`.
COUNT ?= 10000
SEED  ?= 0
fuzz: $(VENV)/.installed
	$(PY) benchmarks/fuzz.py --count $(COUNT) --seed $(SEED)

# Seeded small updates under loss, power cycles and CH restarts, each ending in activation or a
# failure alert: `make soak RUNS=1000 FIRST=0`; exits 1 if any run hung or crashed.
RUNS  ?= 1000
FIRST ?= 0
soak: $(VENV)/.installed
	$(PY) benchmarks/fault_soak.py --runs $(RUNS) --first $(FIRST)

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	touch $@

$(VENV)/.installed: $(VENV)/.created pyproject.toml
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.created pyproject.toml
	$(PIP) install -e '.[test]'
	touch $(VENV)/.installed $@

# labgrid's fork of pyserial is put back over pyserial's files (both install `serial`, and
# pip installs the plain one last): the module labgrid is written against.
$(LG_VENV)/.installed-test: pyproject.toml
	$(PYTHON) -m venv $(LG_VENV)
	$(LG_VENV)/bin/python -m pip --disable-pip-version-check -q install -e '.[test,labgrid]'
	$(LG_VENV)/bin/python -m pip --disable-pip-version-check -q install --force-reinstall --no-deps pyserial-labgrid
	touch $@

clean:
	rm -rf $(VENV) $(LG_VENV) build src/*.egg-info .pytest_cache
