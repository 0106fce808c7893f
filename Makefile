# Bindery build. `make run` and `make test` are the two commands of the README.
# Sources are found by globbing, so adding a module needs no edit here.

BUILD   ?= build
MODE    ?= release
OUT     := $(BUILD)/$(MODE)
PKGS    := libmicrohttpd jansson sqlite3 libpq openssl libargon2 libcurl libqrencode expat inih libarchive

CC      ?= gcc
WARN    := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wvla -Wformat=2 -Wimplicit-fallthrough -Werror
CFLAGS_release := -O2 -g
CFLAGS_asan    := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS_asan   := -fsanitize=address,undefined

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CPPFLAGS += -Isrc -D_GNU_SOURCE -DBINDERY_VERSION='"$(VERSION)"'
CFLAGS   := -std=c17 $(WARN) $(CFLAGS_$(MODE)) -MMD -MP
LDLIBS   := $(PKG_LIBS) -lpthread -lm -lseccomp
VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo dev)

LIB_SRC  := $(filter-out src/main.c,$(shell find src -name '*.c' | sort))
LIB_OBJ  := $(LIB_SRC:%.c=$(OUT)/obj/%.o)
TEST_SRC := $(wildcard tests/unit/test_*.c)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(OUT)/tests/%)

.PHONY: all deps test-deps build run test unit unit-asan e2e bench bench-scaleout clean fmt lint

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

fmt:
	clang-format -i $$(find src tests/unit -name '*.[ch]')

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
