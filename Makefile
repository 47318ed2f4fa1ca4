# softmatrix — build, set-up, tests, benchmarks.
# `make run` and `make test` install missing Debian packages first (make deps).

CC      ?= gcc
PYTHON  ?= /usr/bin/python3
CFLAGS  ?= -O3 -march=x86-64-v2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -fopenmp -Iinclude -I/usr/include/hdf5/serial
LDLIBS  += -L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5 -lcjson -lm
BUILD   ?= build

# python3-meshio and python3-paraview read the XDMF sidecar in tests/test_h5md.py
# (ParaView's VTK has the XDMF readers that Debian's python3-vtk9 is built without;
# without it those tests skip)
DEB_PACKAGES := gcc make libhdf5-dev hdf5-tools libcjson-dev librandom123-dev help2man \
                python3-h5py python3-numpy python3-matplotlib python3-pytest \
                python3-xarray python3-setuptools python3-venv jupyter-nbconvert python3-ipykernel \
                python3-meshio python3-paraview \
                libopenmpi-dev openmpi-bin libhdf5-openmpi-dev
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Sources by layer (docs/architecture.md): core, dynamics, io, diag, run,
# scan, cli; src/main.c only dispatches. -MMD -MP writes a .d file beside
# each object, so editing a header rebuilds exactly what includes it.
LIB_SRC  := $(filter-out src/mpi/%,$(wildcard src/*/*.c))
LIB_OBJ  := $(LIB_SRC:src/%.c=$(BUILD)/obj/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
HEADERS  := $(wildcard include/*/*.h)
DEPFLAGS  = -MMD -MP -MF $(@:%=%.d)

.PHONY: all deps run test unit bench clean help docs man install python-install mpi mpi-check

all: $(BUILD)/softmatrix ## build build/softmatrix (the default)

deps: ## install missing Debian packages (apt-get)
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

# rebuilt whole, so that an object whose source was removed does not linger
$(BUILD)/libsoftmatrix.a: $(LIB_OBJ)
	@rm -f $@
	@echo "ar rcs $@ ($(words $^) objects)"
	@ar rcs $@ $^

$(BUILD)/softmatrix: $(BUILD)/obj/main.o $(BUILD)/libsoftmatrix.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libsoftmatrix.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(DEPFLAGS) -Itests/unit $< $(BUILD)/libsoftmatrix.a -o $@ $(LDLIBS)

-include $(LIB_OBJ:%=%.d) $(BUILD)/obj/main.o.d $(UNIT_BIN:%=%.d)

# The MPI + OpenMP binary (docs/mpi.md): every source, src/mpi/ included,
# compiled by mpicc against the parallel HDF5 into its own tree, so that
# both builds coexist; the serial build keeps naming the serial HDF5.
MPICC      ?= mpicc
MPI_BUILD  ?= $(BUILD)/mpi
MPI_CFLAGS  = $(filter-out -I/usr/include/hdf5/serial,$(CFLAGS)) -DSM_WITH_MPI -I/usr/include/hdf5/openmpi
MPI_LDLIBS  = -L/usr/lib/x86_64-linux-gnu/hdf5/openmpi -lhdf5 -lcjson -lm
MPI_OBJ    := $(patsubst src/%.c,$(MPI_BUILD)/obj/%.o,$(wildcard src/*/*.c) src/main.c)

$(MPI_BUILD)/obj/%.o: src/%.c | mpi-check
	@mkdir -p $(@D)
	$(MPICC) $(MPI_CFLAGS) $(DEPFLAGS) -c $< -o $@

# One line instead of a compiler's cascade when Open MPI or the parallel
# HDF5 is missing (make deps installs both).
mpi-check:
	@command -v $(MPICC) >/dev/null || { echo "make mpi: $(MPICC) not found: the MPI build needs Open MPI (make deps installs libopenmpi-dev and openmpi-bin; docs/mpi.md)" >&2; exit 1; }
	@test -f /usr/include/hdf5/openmpi/hdf5.h || { echo "make mpi: /usr/include/hdf5/openmpi/hdf5.h not found: the MPI build needs the parallel HDF5 (make deps installs libhdf5-openmpi-dev; docs/mpi.md)" >&2; exit 1; }

$(BUILD)/softmatrix-mpi: $(MPI_OBJ)
	$(MPICC) $(MPI_CFLAGS) $^ -o $@ $(MPI_LDLIBS)

mpi: $(BUILD)/softmatrix-mpi ## build build/softmatrix-mpi (MPI + OpenMP, parallel HDF5; docs/mpi.md)

-include $(MPI_OBJ:%=%.d)

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | sort | \
	  awk -F '\t' '{ printf "  make %-16s %s\n", $$1, $$2 }'

# Generated references: written from the program's own tables, so they
# cannot drift (tests/test_docs.py fails when the committed copies are stale).
docs: all ## regenerate docs/config.md and docs/output.md from the binary
	$(BUILD)/softmatrix doc config > docs/config.md.tmp && mv docs/config.md.tmp docs/config.md
	$(BUILD)/softmatrix doc output > docs/output.md.tmp && mv docs/output.md.tmp docs/output.md

# The man page from --help and --version (help2man).
$(BUILD)/softmatrix.1: $(BUILD)/softmatrix
	help2man --no-info --no-discard-stderr --name="lattice Monte Carlo of Wu's cluster model of glass states" \
	  --output=$@.tmp $(BUILD)/softmatrix && mv $@.tmp $@

man: $(BUILD)/softmatrix.1 ## the man page build/softmatrix.1 (help2man)

# The binary, the man page, bash completion, the Python package and its
# plot tools under PREFIX (DESTDIR for staged installs).
PREFIX  ?= /usr/local
# Debian's layout: PREFIX=/usr/local lands on the system Python's path
PYLIB    = $(PREFIX)/lib/$(shell $(PYTHON) -c 'import sys; print("python%d.%d" % sys.version_info[:2])')/dist-packages
install: all man ## install binary, man page, bash completion and Python tools under PREFIX (default /usr/local)
	install -D -m 755 $(BUILD)/softmatrix $(DESTDIR)$(PREFIX)/bin/softmatrix
	install -D -m 644 $(BUILD)/softmatrix.1 $(DESTDIR)$(PREFIX)/share/man/man1/softmatrix.1
	install -D -m 644 scripts/softmatrix.bash-completion $(DESTDIR)$(PREFIX)/share/bash-completion/completions/softmatrix
	install -d $(DESTDIR)$(PYLIB)/softmatrix/data
	install -m 644 python/softmatrix/*.py $(DESTDIR)$(PYLIB)/softmatrix/
	install -m 644 data/table1.json $(DESTDIR)$(PYLIB)/softmatrix/data/
	install -D -m 755 scripts/softmatrix-plot $(DESTDIR)$(PREFIX)/bin/softmatrix-plot
	@echo "installed under $(DESTDIR)$(PREFIX) (Python package in $(DESTDIR)$(PYLIB))"

# The Python package in a virtual environment that sees Debian's numpy,
# h5py, matplotlib and xarray (offline: no index is contacted).
VENV ?= .venv
python-install: deps ## the Python package into the venv VENV (default .venv)
	$(PYTHON) -m venv --system-site-packages $(VENV)
	$(VENV)/bin/pip install --no-build-isolation --no-index ./python

# exact enumeration and Ising results, built independently of src/ (docs/validation.md)
include tests/exact/Makefile.inc

run: deps all ## set up, build and run configs/default.json
	$(BUILD)/softmatrix run configs/default.json --overwrite

# Each test program runs as a target of its own (run/<binary>), so that under -j
# they run side by side and beside the builds still going: one at a time they took
# a minute of `make test`.
# They wait as the program's own threads do (src/run/threads.c: idle threads
# sleep after a short spin): two OpenMP programs side by side on two cores,
# each spinning while its partner waits behind the other, took minutes
# instead of seconds.
QUIET_WAITS := GOMP_SPINCOUNT=100 KMP_BLOCKTIME=0
UNIT_RUN := $(addprefix run/,$(UNIT_BIN) $(EXACT_TEST_BIN))
.PHONY: $(UNIT_RUN)
$(UNIT_RUN): run/%: %
	@echo "== $*"; $(QUIET_WAITS) $*

unit: all $(EXACT_BIN) $(UNIT_RUN) ## C unit tests and exact-enumeration tests

# C unit tests first, then the pytest suite (CLI, HDF5, physics); pytest's
# closing line is the summary of the whole run. Every build the suite needs
# (the MPI binary of tests/test_mpi.py too) and every C test run in one make
# on every core (BUILD_JOBS), each test's output kept together: run one build
# after the other, each ended on one core compiling its slowest file while the
# other waited. The slowest compiles, listed first, start first.
BUILD_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
SLOW_OBJ   := obj/diag/census.o
test: deps ## set up, then the whole test suite (what CI runs)
	$(MAKE) -k -j$(BUILD_JOBS) --output-sync=target sanitize-smoke $(MPI_BUILD)/$(SLOW_OBJ) \
	  $(BUILD)/$(SLOW_OBJ) mpi unit
	$(PYTHON) -m pytest -q tests

# Benchmark: tests/bench/*.c linked against the library; results
# in $(BUILD)/bench/bench.json and as a table on stdout.
BENCH_SRC := $(wildcard tests/bench/*.c)
$(BUILD)/bench/bench: $(BENCH_SRC) $(wildcard tests/bench/*.h) $(BUILD)/libsoftmatrix.a $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -DBENCH_CFLAGS='"$(CFLAGS)"' -Itests/bench $(BENCH_SRC) $(BUILD)/libsoftmatrix.a -o $@ $(LDLIBS)

bench: $(BUILD)/bench/bench ## benchmarks: ns per site-update, ratios to an in-binary Ising baseline
	$(BUILD)/bench/bench --out $(BUILD)/bench/bench.json $(BENCH_ARGS)

# Validation against exact results (docs/validation.md): Ising limit,
# Onsager, exact enumeration with level and cage dynamics, planted-bug controls.
# Prints the table of every comparison and writes it to $(BUILD)/validation.md.
# VALIDATE_JOBS simulations run at a time.
VALIDATE_JOBS ?= 2
.PHONY: validate
validate: deps all $(EXACT_BIN) ## the validation suite against exact results (docs/validation.md)
	$(PYTHON) tests/validation/validate.py --jobs $(VALIDATE_JOBS) --markdown $(BUILD)/validation.md

# Figures of the README gallery (README "Figures"), made by scripts/*.py.
# The sweep figure comes from configs/sweep_T.json, the time series and the
# snapshot from FIG_CONFIG.
FIG_DIR    ?= data/figures
FIG_OUT    ?= out/figures
FIG_CONFIG ?= configs/default.json
FIG_RAMP   ?= scripts/figure_configs/hysteresis.json

# The glass-transition figures of docs/results.md and docs/kinetics.md. The
# measurements are file targets under GLASS_OUT, so they are rerun only when
# their config or the binary changed (about 15 minutes on 2 cores from scratch).
GLASS_OUT   ?= out/glass
GLASS_SIZES ?= 32,64
GLASS_PY     = PYTHONPATH=python OMP_WAIT_POLICY=passive $(PYTHON) -m softmatrix.glass

$(GLASS_OUT)/%.transition.h5: configs/%.json $(BUILD)/softmatrix
	@mkdir -p $(@D)
	OMP_WAIT_POLICY=passive $(BUILD)/softmatrix transition $< --sizes $(GLASS_SIZES) --grid 12 \
	  --output $@ --overwrite --quiet > $(@:.h5=.txt)

# the map: 30 points on 32 x 32, 4 seeds each, no T_p
$(GLASS_OUT)/tgmap.transition.h5: configs/tgmap.json $(BUILD)/softmatrix
	@mkdir -p $(@D)
	OMP_WAIT_POLICY=passive $(BUILD)/softmatrix transition $< --seeds 4 --sweeps 1000 --no-tp \
	  --output $@ --overwrite --quiet > $(@:.h5=.txt)

$(GLASS_OUT)/%/index.h5: configs/%.json $(BUILD)/softmatrix
	OMP_WAIT_POLICY=passive $(BUILD)/softmatrix sweep $< --output-dir $(@D) --overwrite --quiet

GLASS_FIGS := $(FIG_DIR)/transition.png $(FIG_DIR)/tgmap.png $(FIG_DIR)/tau.png \
              $(FIG_DIR)/kww.png $(FIG_DIR)/loops.png

$(FIG_DIR)/transition.png: $(GLASS_OUT)/default.transition.h5 $(GLASS_OUT)/paper_local.transition.h5
	$(GLASS_PY) transition $(GLASS_OUT)/default.transition.h5:defaults \
	  $(GLASS_OUT)/paper_local.transition.h5:paper_local -o $@
$(FIG_DIR)/tgmap.png: $(GLASS_OUT)/tgmap.transition.h5
	$(GLASS_PY) tgmap $< -o $@
$(FIG_DIR)/tau.png: $(GLASS_OUT)/cage_relaxation/index.h5
	$(GLASS_PY) tau $(<D) -o $@
$(FIG_DIR)/kww.png: $(GLASS_OUT)/tjump/index.h5
	$(GLASS_PY) kww $(<D) -o $@
$(FIG_DIR)/loops.png: $(GLASS_OUT)/hysteresis/index.h5
	$(GLASS_PY) loops $(<D) -o $@

.PHONY: figures-glass
figures-glass: all $(GLASS_FIGS) ## the glass-transition figures (T_g, T_m, T_p, the T_g/T_m map, kinetics)

.PHONY: figures
figures: all figures-glass ## regenerate data/figures/*.png
	mkdir -p $(FIG_DIR) $(FIG_OUT)
	$(BUILD)/softmatrix run $(FIG_CONFIG) --output $(FIG_OUT)/default.h5 --overwrite --quiet
	$(BUILD)/softmatrix run $(FIG_RAMP) --output $(FIG_OUT)/hysteresis.h5 --overwrite --quiet
	$(BUILD)/softmatrix table1 --json > $(FIG_OUT)/table1.json
	$(PYTHON) scripts/plot_run.py $(FIG_OUT)/default.h5 -o $(FIG_DIR)/run.png
	$(PYTHON) scripts/plot_snapshot.py $(FIG_OUT)/default.h5 --temperature 3 --crop 64 -o $(FIG_DIR)/snapshot.png
	$(BUILD)/softmatrix sweep configs/sweep_T.json --output-dir $(FIG_OUT)/sweep_T --overwrite --quiet
	$(PYTHON) scripts/plot_sweep.py $(FIG_OUT)/sweep_T/index.h5 -o $(FIG_DIR)/sweep.png
	$(PYTHON) scripts/table1_report.py --table1-json $(FIG_OUT)/table1.json -o $(FIG_DIR)/table1_ideal.png
	$(PYTHON) scripts/table1_report.py $(FIG_OUT)/default.h5 --table1-json $(FIG_OUT)/table1.json -o $(FIG_DIR)/table1.png
	$(PYTHON) scripts/hysteresis.py $(FIG_OUT)/hysteresis.h5 -o $(FIG_DIR)/hysteresis.png

# --- Robustness: sanitizers and fuzzing ---------------------------
# The sanitized build lives in its own tree, made by a recursive make with
# CFLAGS passed through the environment (a command-line CFLAGS would replace
# the `+=` flags above instead of being extended by them).
SAN_BUILD  ?= build-san
SAN_CFLAGS ?= -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
# leaks are checked; a sanitizer report fails the process (exit 1 at least)
SAN_ENV    := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1 \
              LSAN_OPTIONS=suppressions=$(CURDIR)/tests/fuzz/lsan.supp:print_suppressions=0 \
              UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
SAN_MAKE    = CFLAGS='$(SAN_CFLAGS)' EXACT_CFLAGS='-O1 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -fopenmp $(SAN_CFLAGS)' \
              $(MAKE) --no-print-directory BUILD=$(SAN_BUILD)
SAN_UNIT    = $(UNIT_SRC:tests/unit/%.c=$(SAN_BUILD)/tests/%)
# the config parser needs the dynamics registry (names) and model defaults:
# the replay harness links the library, libFuzzer builds every source
FUZZ_SRC   := tests/fuzz/fuzz_config.c $(LIB_SRC)

.PHONY: sanitize-build sanitize-smoke test-sanitize fuzz fuzz-deps

# the fuzz harness with a replay main(), built by gcc with the same sanitizers
$(BUILD)/fuzz_replay: tests/fuzz/fuzz_config.c $(BUILD)/libsoftmatrix.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -DFUZZ_REPLAY $< $(BUILD)/libsoftmatrix.a -o $@ $(LDLIBS)

# the slowest compile first (SLOW_OBJ), so that it is not the last one running
sanitize-build: ## build under ASan/UBSan in build-san/
	$(SAN_MAKE) $(SAN_BUILD)/$(SLOW_OBJ) all $(SAN_UNIT) $(SAN_BUILD)/fuzz_replay

# The short sanitized part of `make test` (under a minute): unit tests, the
# fuzz regressions and configs/quick.json under ASan + UBSan, each a target
# of its own (san-run/...), side by side under -j.
SAN_RUN := $(addprefix san-run/,$(SAN_UNIT)) san-run/fuzz-regressions san-run/quick
.PHONY: $(SAN_RUN)
$(filter san-run/$(SAN_BUILD)/%,$(SAN_RUN)): san-run/%: sanitize-build
	@echo "== [asan] $*"; $(SAN_ENV) $(QUIET_WAITS) $* >/dev/null
san-run/fuzz-regressions: sanitize-build
	@echo "== [asan] fuzz regressions"; $(SAN_ENV) $(SAN_BUILD)/fuzz_replay tests/fuzz/regressions/* >/dev/null
san-run/quick: sanitize-build
	@echo "== [asan] configs/quick.json"; \
	$(SAN_ENV) $(SAN_BUILD)/softmatrix run configs/quick.json --threads 2 --quiet --overwrite \
	  --output $(SAN_BUILD)/quick.h5

sanitize-smoke: $(SAN_RUN) ## short ASan/UBSan part of make test

# Everything under the sanitizers: unit and exact tests, then the whole
# pytest suite against build-san/softmatrix.
test-sanitize: deps ## the whole suite under ASan/UBSan
	$(SAN_ENV) $(SAN_MAKE) unit $(SAN_BUILD)/fuzz_replay
	$(SAN_ENV) $(SAN_BUILD)/fuzz_replay tests/fuzz/regressions/* >/dev/null
	$(SAN_ENV) SOFTMATRIX_BIN=$(SAN_BUILD)/softmatrix $(PYTHON) -m pytest -q tests

# ThreadSanitizer on the OpenMP kernels: clang-14 with libomp and the Archer
# tool (which tells TSan about OpenMP barriers and tasks; gcc's libgomp would
# need rebuilding). target_clones is compiled out: its ifunc resolver runs
# before the TSan runtime is initialised and would crash. Level and cage
# dynamics, open odd-sized and periodic lattices, the census, 4 threads.
TSAN_BUILD ?= build-tsan
TSAN_ENV   := OMP_TOOL_LIBRARIES=/usr/lib/llvm-14/lib/libarcher.so \
              TSAN_OPTIONS=ignore_noninstrumented_modules=1:halt_on_error=1:exitcode=66:suppressions=$(CURDIR)/tests/fuzz/tsan.supp
TSAN_RUN    = $(TSAN_ENV) $(TSAN_BUILD)/softmatrix run tests/fuzz/tsan.json --threads 4 --quiet --overwrite

.PHONY: test-tsan
test-tsan: deps fuzz-deps ## ThreadSanitizer on the OpenMP kernels
	CC=clang-14 CFLAGS="-O1 -g -fsanitize=thread '-Dtarget_clones(...)='" \
	  $(MAKE) --no-print-directory BUILD=$(TSAN_BUILD) $(TSAN_BUILD)/softmatrix
	$(TSAN_RUN) --output $(TSAN_BUILD)/level_open.h5
	$(TSAN_RUN) --output $(TSAN_BUILD)/cage_open.h5 --set dynamics.kind=cage
	$(TSAN_RUN) --output $(TSAN_BUILD)/level_periodic.h5 --set lattice.boundary=periodic \
	  --set lattice.Lx=64 --set lattice.Ly=32
	$(TSAN_RUN) --output $(TSAN_BUILD)/cage_periodic.h5 --set lattice.boundary=periodic \
	  --set lattice.Lx=64 --set lattice.Ly=32 --set dynamics.kind=cage
	@echo "test-tsan: no data races reported"

# libFuzzer on the config parser and validator for FUZZ_TIME seconds, seeded
# with configs/*.json and the regressions; a crash leaves
# $(BUILD)/fuzz/crash-* (copy it to tests/fuzz/regressions/ once fixed).
FUZZ_CC   ?= clang-14
FUZZ_TIME ?= 60
FUZZ_RT   := $(wildcard /usr/lib/llvm-14/lib/clang/14*/lib/linux/libclang_rt.fuzzer-x86_64.a)

# libomp-14-dev (libomp, omp.h and the Archer tool for test-tsan) is not a
# dependency of clang-14, so it is asked for by name.
fuzz-deps: ## install clang-14 and its fuzzing runtime
	@if ! command -v $(FUZZ_CC) >/dev/null || [ -z "$(FUZZ_RT)" ] || \
	    [ ! -e /usr/lib/llvm-14/lib/libarcher.so ]; then \
	  echo "make fuzz-deps: installing clang-14 libclang-rt-14-dev libomp-14-dev"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    $(SUDO) apt-get install -y -qq clang-14 libclang-rt-14-dev libomp-14-dev; \
	fi

$(BUILD)/fuzz/fuzz_config: $(FUZZ_SRC) $(HEADERS)
	@mkdir -p $(@D)
	$(FUZZ_CC) -g -O1 -std=c11 -D_GNU_SOURCE -Wall -Wextra -fopenmp -Iinclude -I/usr/include/hdf5/serial \
	  '-Dtarget_clones(...)=' -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all $(FUZZ_SRC) \
	  -o $@ $(LDLIBS)

fuzz: deps fuzz-deps ## libFuzzer on the config parser (FUZZ_TIME seconds)
	$(MAKE) --no-print-directory $(BUILD)/fuzz/fuzz_config
	mkdir -p $(BUILD)/fuzz/corpus
	cp configs/*.json tests/fuzz/regressions/* $(BUILD)/fuzz/corpus/
	$(BUILD)/fuzz/fuzz_config -max_total_time=$(FUZZ_TIME) -dict=tests/fuzz/config.dict \
	  -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	  -artifact_prefix=$(BUILD)/fuzz/ $(BUILD)/fuzz/corpus

clean: ## remove build trees
	rm -rf $(BUILD) $(SAN_BUILD) $(TSAN_BUILD)
