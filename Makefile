# heapdoc — a doctor for the memory of live Linux processes.
#
#   make          build ./heapdoc
#   make check    install what is missing, build, run every test
#   make demo     install what is missing, build, triage a misbehaving fixture
#   make observations           re-record fixtures/observations/ from live runs
#   make observations-expected  render their expected outputs again
#   make asan     the whole suite under AddressSanitizer + UBSan
#   make clang    compile everything with clang (make check does this too)
#   make install  PREFIX=/usr/local DESTDIR=
#
# Objects go to $(BUILD) (build/ by default, build-asan/ for `make asan`), so
# the two builds never mix.  Fixtures are always built plain: they are the
# targets heapdoc examines, and a sanitizer would replace their allocator.

VERSION := 0.1.0
PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
CC      ?= cc

# The installed binary lives at the repository root for the default build.
BIN := $(if $(filter build,$(BUILD)),heapdoc,$(BUILD)/heapdoc)
# The sampling library `heapdoc leaks` loads into targets (see below).
AGENT_SO := $(BUILD)/libheapdoc-agent.so

PKGS := libelf libdw libunwind-ptrace
CFLAGS ?= -O2 -g
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Ilib \
	     -DHEAPDOC_VERSION='"$(VERSION)"' $(PKG_CFLAGS) $(CFLAGS)
LIBS = $(PKG_LIBS) -lz -lpthread -lm

# lib/observe/agent/inside/ is the sampling library loaded into targets: it
# is built on its own (below), never into heapdoc.
LIB_SRC := $(sort $(filter-out lib/observe/agent/inside/%,$(shell find lib -name "*.c" -o -name "*.S")))
CMD_SRC := $(sort $(wildcard cmd/*.c))
LIB_OBJ := $(patsubst %.S,$(BUILD)/%.o,$(LIB_SRC:%.c=$(BUILD)/%.o))
CMD_OBJ := $(CMD_SRC:%.c=$(BUILD)/%.o)
DEPFILES = $(LIB_OBJ:.o=.d) $(CMD_OBJ:.o=.d) $(TEST_OBJ:.o=.d)

all: $(BIN) $(AGENT_SO)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# Assembly (the injection trampoline): data for heapdoc, code for a target.
$(BUILD)/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) -Ilib/observe -MMD -MP -c -o $@ $<

$(BUILD)/libheapdoc.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(CMD_OBJ) $(BUILD)/libheapdoc.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(CMD_OBJ) $(BUILD)/libheapdoc.a $(LIBS)

# ---- the sampling library `heapdoc leaks` loads into a target -------------
# libc only, position-independent, never sanitized (it runs inside someone
# else's process): it ignores CFLAGS.  The fast paths (hooks.c) have no
# frame; the slow path (sample.c) keeps frame pointers to find its caller.
AGENT_SRC := $(sort $(wildcard lib/observe/agent/inside/*.c))
AGENT_OBJ := $(AGENT_SRC:lib/observe/agent/inside/%.c=$(BUILD)/agent/%.o)
AGENT_CFLAGS := -std=gnu11 -D_GNU_SOURCE -O2 -g -fPIC -fvisibility=hidden \
	-fno-stack-protector -Wall -Wextra -Werror
AGENT_FP_sample := -fno-omit-frame-pointer
AGENT_FP_hooks := -fomit-frame-pointer

$(BUILD)/agent/%.o: lib/observe/agent/inside/%.c lib/observe/agent/inside/inside.h \
		    lib/observe/agent/agent_abi.h
	@mkdir -p $(dir $@)
	$(CC) $(AGENT_CFLAGS) $(AGENT_FP_$*) -c -o $@ $<

$(AGENT_SO): $(AGENT_OBJ)
	$(CC) -shared -o $@ $^ -Wl,-soname,libheapdoc-agent.so -Wl,-z,now \
	  -Wl,--no-undefined

# ---- fixtures: small programs with a known truth -------------------------
# Each fixtures/NAME.c becomes $(BUILD)/fixtures/NAME.  A fixture that needs
# more libraries names them in FIX_LIBS_NAME; one listed in FIX_STATIC is
# also built as NAME-static.
FIX_CFLAGS := -std=gnu11 -O1 -g -Wall -Wextra -Werror -Ifixtures
FIX_SRC := $(sort $(wildcard fixtures/*.c))
FIX_STATIC :=
FIX_BIN = $(FIX_SRC:fixtures/%.c=$(BUILD)/fixtures/%) \
	  $(FIX_STATIC:%=$(BUILD)/fixtures/%-static)
-include fixtures/fixtures.mk

$(BUILD)/fixtures/%: fixtures/%.c fixtures/fixture.h
	@mkdir -p $(dir $@)
	$(CC) $(FIX_CFLAGS) -o $@ $< $(FIX_LIBS_$*) -lpthread

$(BUILD)/fixtures/%-static: fixtures/%.c fixtures/fixture.h
	@mkdir -p $(dir $@)
	$(CC) $(FIX_CFLAGS) -static -o $@ $< $(FIX_LIBS_$*) -lpthread

fixtures: $(FIX_BIN)

# ---- tests: one Check runner holding every suite --------------------------
# A suite is any `Suite *NAME_suite(void)` defined at the start of a line in
# tests/*.c; the runner's list is generated from them.  CK_RUN_SUITE=NAME
# runs one suite.
TEST_SRC := $(sort $(wildcard tests/*.c))
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   = $(shell pkg-config --libs check 2>/dev/null)
TEST_DEFS = -DHEAPDOC_ROOT='"$(CURDIR)"' -DHEAPDOC_BIN='"$(CURDIR)/$(BIN)"' \
	    -DFIXTURE_BIN='"$(CURDIR)/$(BUILD)/fixtures"' -I$(BUILD)/tests -Itests -Icmd

$(BUILD)/tests/suites.h: $(TEST_SRC)
	@mkdir -p $(dir $@)
	sed -n 's/^Suite \*\([a-z0-9_]*_suite\)(void).*/SUITE(\1)/p' $(TEST_SRC) > $@

$(BUILD)/tests/%.o: tests/%.c $(BUILD)/tests/suites.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) $(TEST_DEFS) -MMD -MP -c -o $@ $<

# The runner also links cmd/ (all but main): the option parser and the exit
# codes are tested as functions too.
CMD_TEST_OBJ = $(filter-out $(BUILD)/cmd/main.o,$(CMD_OBJ))

$(BUILD)/tests/run: $(TEST_OBJ) $(CMD_TEST_OBJ) $(BUILD)/libheapdoc.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(TEST_OBJ) $(CMD_TEST_OBJ) $(BUILD)/libheapdoc.a \
	  $(LIBS) $(CHECK_LIBS)

tests: $(BUILD)/tests/run $(BIN) $(AGENT_SO) fixtures

# ---- the commands README promises -----------------------------------------
deps:
	@sh scripts/deps.sh

# check first holds the tree to its layout (scripts/check-stages.sh: no
# include against base -> model -> observe -> judge -> report -> cmd), then
# compiles everything with clang too (both compilers must stay clean), then
# runs the suite, so Check's summary is the last line printed.
check: deps
	@sh scripts/check-stages.sh
	@$(MAKE) --no-print-directory clang
	@$(MAKE) --no-print-directory run-tests

clang:
	@$(MAKE) --no-print-directory BUILD=build-clang CC=clang build-clang/heapdoc \
	  build-clang/tests/run build-clang/libheapdoc-agent.so

run-tests: tests
	$(BUILD)/tests/run

asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan \
	  CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" \
	  LDFLAGS="-fsanitize=address,undefined" run-tests

demo: deps
	@$(MAKE) --no-print-directory $(BIN) fixtures
	@sh scripts/demo.sh $(BUILD)

# Programs the scripts under bench/ run (bench/NAME.c), built like fixtures.
BENCH_BIN := $(BUILD)/bench/alloc_loop $(BUILD)/bench/leaks_overhead
$(BUILD)/bench/%: bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(FIX_CFLAGS) -O2 -o $@ $< -lpthread

# The long runs of the robustness suites: a thousand corrupted heaps, a
# thousand kills of heapdoc per allocator (figures on stderr).
soak: tests
	HEAPDOC_HOSTILE_SEEDS=1000 CK_RUN_SUITE=hostile $(BUILD)/tests/run
	HEAPDOC_FAULT_CYCLES=1000 CK_RUN_SUITE=fault $(BUILD)/tests/run

# The recorded observations the judge and reports are tested on
# (tests/observations_test.c): re-record them from live runs, or only render
# their expected outputs again after a change meant to alter them.
observations: deps
	@$(MAKE) --no-print-directory $(BIN) fixtures
	@sh scripts/observations.sh record $(BUILD)

observations-expected: $(BIN)
	@sh scripts/observations.sh render $(BUILD)

bench: deps
	@$(MAKE) --no-print-directory $(BIN) $(AGENT_SO) fixtures $(BENCH_BIN) $(BUILD)/tests/run
	@sh bench/run.sh $(BUILD)

install: $(BIN) $(AGENT_SO)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/heapdoc
	install -d $(DESTDIR)$(PREFIX)/lib/heapdoc
	install -m 644 $(AGENT_SO) $(DESTDIR)$(PREFIX)/lib/heapdoc/libheapdoc-agent.so
	install -m 644 man/heapdoc.1 $(DESTDIR)$(PREFIX)/share/man/man1/heapdoc.1

clean:
	rm -rf build build-asan build-clang heapdoc

.PHONY: all fixtures tests deps check clang run-tests asan demo soak bench install clean \
	observations observations-expected

-include $(DEPFILES)
