# Bindery build. `make run` and `make test` are the two commands of the README.
# Sources are found by globbing, so adding a module needs no edit here.

BUILD   ?= build
MODE    ?= release
OUT     := $(BUILD)/$(MODE)
PKGS    := libmicrohttpd jansson sqlite3 libpq openssl libargon2 libcurl libqrencode expat inih \
           libseccomp libarchive

CC      ?= gcc
WARN    := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wvla -Wformat=2 -Wimplicit-fallthrough -Werror
CFLAGS_release := -O2 -g
CFLAGS_asan    := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS_asan   := -fsanitize=address,undefined
# libFuzzer build (make fuzz, docs/testing.md): clang only.
CFLAGS_fuzz    := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
                  -fno-sanitize-recover=all
LDFLAGS_fuzz   := -fsanitize=fuzzer,address,undefined
ifeq ($(MODE),fuzz)
CC := clang
endif

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CPPFLAGS += -Isrc -D_GNU_SOURCE -DBINDERY_VERSION='"$(VERSION)"'
CFLAGS   := -std=c17 $(WARN) $(CFLAGS_$(MODE)) -MMD -MP
LDLIBS   := $(PKG_LIBS) -lpthread -lm
VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo dev)

LIB_SRC  := $(filter-out src/main.c,$(shell find src -name '*.c' | sort))
LIB_OBJ  := $(LIB_SRC:%.c=$(OUT)/obj/%.o)
TEST_SRC := $(wildcard tests/unit/test_*.c)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(OUT)/tests/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=$(OUT)/fuzz/%)
# libFuzzer brings its own main(); every other mode replays files (tests/fuzz/replay.c).
FUZZ_MAIN := $(if $(filter fuzz,$(MODE)),,$(OUT)/obj/tests/fuzz/replay.o)
FUZZ_SECONDS ?= 60

.PHONY: all deps test-deps build run test unit unit-asan e2e bench bench-scaleout clean fmt lint \
        print-ldlibs print-cflags
.PHONY: fuzz fuzz-bins fuzz-replay

all: build

deps:
	@scripts/install-deps.sh build

test-deps:
	@scripts/install-deps.sh test

build: $(OUT)/bindery

$(OUT)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC ($(MODE)) $<"
	@$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -c $< -o $@

$(OUT)/libbindery.a: $(LIB_OBJ)
	@rm -f $@
	@ar rcs $@ $^

$(OUT)/bindery: $(OUT)/obj/src/main.o $(OUT)/libbindery.a
	@echo "  LD ($(MODE)) $@"
	@$(CC) $(LDFLAGS_$(MODE)) -o $@ $^ $(LDLIBS)

$(OUT)/tests/%: tests/unit/%.c $(OUT)/libbindery.a
	@mkdir -p $(dir $@)
	@echo "  LD ($(MODE)) $@"
	@$(CC) $(CPPFLAGS) $(PKG_CFLAGS) -Itests/unit $(CFLAGS) $(LDFLAGS_$(MODE)) -o $@ $< \
		$(OUT)/libbindery.a $(LDLIBS) -lcmocka

unit-bins: $(TEST_BIN)

$(OUT)/fuzz/%: tests/fuzz/fuzz_%.c $(FUZZ_MAIN) $(OUT)/libbindery.a
	@mkdir -p $(dir $@)
	@echo "  LD ($(MODE)) $@"
	@$(CC) $(CPPFLAGS) $(PKG_CFLAGS) -Itests/fuzz $(CFLAGS) $(LDFLAGS_$(MODE)) -o $@ $< \
		$(FUZZ_MAIN) $(OUT)/libbindery.a $(LDLIBS)

fuzz-bins: $(FUZZ_BIN)
# Keep the replay main's object between builds (make would delete it as an
# intermediate of the pattern rule).
.SECONDARY: $(OUT)/obj/tests/fuzz/replay.o

# Runs every libFuzzer target for FUZZ_SECONDS on a copy of its corpus
# (clang); fails when any target crashes, leaks or trips a sanitizer.
fuzz:
	@scripts/install-deps.sh fuzz
	@$(MAKE) --no-print-directory MODE=fuzz fuzz-bins
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh run build/fuzz/fuzz

# Replays the committed corpus through the targets under gcc's ASan+UBSan.
fuzz-replay:
	@$(MAKE) --no-print-directory MODE=asan fuzz-bins
	@scripts/fuzz.sh replay build/asan/fuzz

# Runs every unit test binary of one build mode; exits non-zero on any failure.
unit: deps
	@$(MAKE) --no-print-directory MODE=$(MODE) build unit-bins
	@MODE=$(MODE) scripts/run-unit.sh $(OUT)/tests

unit-asan:
	@$(MAKE) --no-print-directory MODE=asan unit

e2e: test-deps
	@$(MAKE) --no-print-directory MODE=release build
	@scripts/run-e2e.sh

test:
	@scripts/test.sh

run: deps
	@$(MAKE) --no-print-directory MODE=release build
	@scripts/run.sh

bench: test-deps
	@$(MAKE) --no-print-directory MODE=release build
	@bench/run.sh

# SQLite vs PostgreSQL vs two instances on PostgreSQL (docs/benchmarks.md).
bench-scaleout: test-deps
	@bench/scaleout/run.sh

# For programs outside the tree that link libbindery.a (bench/*/Makefile).
print-ldlibs:
	@echo $(LDLIBS)
print-cflags:
	@echo $(PKG_CFLAGS)

fmt:
	clang-format -i $$(find src tests/unit tests/fuzz -name '*.[ch]')

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
