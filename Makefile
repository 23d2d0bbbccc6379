# watchrelay — plain Makefile. `make` builds build/watchrelay; see README.md.

BUILD   ?= build
CC      ?= cc
V       ?= 0
WERROR  ?= 0
SAN     ?= 0

PKGS    = libevent libcurl json-c hiredis
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

CSTD       = -std=c11 -D_DEFAULT_SOURCE
WARN       = -Wall -Wextra -Wpedantic -Wformat=2 -Wshadow -Wstrict-prototypes \
             -Wmissing-prototypes -Wmissing-declarations -Wold-style-definition \
             -Wredundant-decls -Wwrite-strings -Wcast-qual -Wpointer-arith \
             -Wundef -Wvla -Wnull-dereference -Wimplicit-fallthrough -fno-common
WARN_GCC   = -Wlogical-op -Wduplicated-cond -Wduplicated-branches \
             -Wjump-misses-init -Wformat-truncation=2 -Wformat-overflow=2
WARN_CLANG = -Wcomma -Wconditional-uninitialized
HARDEN     = -O2 -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE
HARDEN_LD  = -pie -Wl,-z,relro,-z,now
ASAN       = -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
             -fno-omit-frame-pointer
FUZZ       = -g -O1 -fsanitize=fuzzer,address,undefined

IS_CLANG := $(shell $(CC) --version 2>/dev/null | grep -q clang && echo 1)
ifeq ($(IS_CLANG),1)
WARN += $(WARN_CLANG)
else
WARN += $(WARN_GCC)
endif
ifeq ($(WERROR),1)
WARN += -Werror
endif

INCS    = -Isrc -Ihandlers -Iadapters
ifeq ($(SAN),1)
OPT     = $(ASAN)
LDOPT   = -fsanitize=address,undefined
else
OPT     = -g $(HARDEN)
LDOPT   = $(HARDEN_LD) -Wl,--as-needed
endif
CFLAGS_ALL = $(CSTD) $(WARN) $(OPT) $(INCS) $(PKG_CFLAGS) -MMD -MP $(CFLAGS)
LDLIBS_ALL = $(PKG_LIBS) -lm $(LDLIBS)

ifeq ($(V),1)
Q =
else
Q = @
endif

LIB_SRC  = $(filter-out src/main.c,$(wildcard src/*.c)) \
           $(wildcard handlers/*.c) $(wildcard adapters/*.c)
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ = $(BUILD)/src/main.o
UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_BIN = $(UNIT_SRC:%.c=$(BUILD)/%)
UNIT_HELPER_OBJ = $(patsubst %.c,$(BUILD)/%.o,$(filter-out $(UNIT_SRC),$(wildcard tests/unit/*.c)))
TOOL_SRC = $(wildcard tests/bench/*.c) $(wildcard tests/fakes/*.c)
TOOL_BIN = $(TOOL_SRC:%.c=$(BUILD)/%)
FUZZ_SRC = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES = $(notdir $(FUZZ_SRC:%.c=%))
FUZZ_SECONDS ?= 20

.SECONDARY:

.PHONY: all deps run test unit integration asan valgrind fuzz fuzz-build \
        bench demo lint format check-format clean

all: $(BUILD)/watchrelay $(TOOL_BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(if $(Q),@echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/libwr.a: $(LIB_OBJ)
	$(if $(Q),@echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/watchrelay: $(MAIN_OBJ) $(BUILD)/libwr.a
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(LDOPT) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/tests/unit/test_%: $(BUILD)/tests/unit/test_%.o $(UNIT_HELPER_OBJ) $(BUILD)/libwr.a
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(LDOPT) -o $@ $^ $(CMOCKA_LIBS) $(LDLIBS_ALL)

$(BUILD)/tests/bench/%: $(BUILD)/tests/bench/%.o $(BUILD)/libwr.a
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(LDOPT) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/tests/fakes/%: $(BUILD)/tests/fakes/%.o $(BUILD)/libwr.a
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(LDOPT) -o $@ $^ $(LDLIBS_ALL)

deps:
	@sh contrib/install-deps.sh

run: deps all
	./$(BUILD)/watchrelay serve

unit: $(UNIT_BIN)

test: deps
	$(Q)$(MAKE) --no-print-directory all unit
	WR_BUILD=$(BUILD) CMOCKA_MESSAGE_OUTPUT=TAP prove -f $(UNIT_BIN) tests/integration/*.t

asan: deps
	$(Q)$(MAKE) --no-print-directory BUILD=build-asan SAN=1 test

valgrind: deps
	$(Q)$(MAKE) --no-print-directory all unit
	@set -e; for t in $(UNIT_BIN); do \
	    echo "valgrind $$t"; \
	    CMOCKA_MESSAGE_OUTPUT=TAP valgrind -q --error-exitcode=99 \
	        --leak-check=full --errors-for-leak-kinds=definite \
	        --suppressions=tests/valgrind.supp $$t >/dev/null; \
	done

fuzz-build:
	$(Q)$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang \
	    OPT="$(FUZZ)" LDOPT="-fsanitize=fuzzer,address,undefined" \
	    build-fuzz/libwr.a $(FUZZ_NAMES:%=build-fuzz/fuzz/%)

build-fuzz/fuzz/%: tests/fuzz/%.c build-fuzz/libwr.a
	@mkdir -p $(dir $@)
	$(if $(Q),@echo "  FUZZ    $@")
	$(Q)$(CC) $(CFLAGS_ALL) $(LDOPT) -o $@ $< build-fuzz/libwr.a $(LDLIBS_ALL)

fuzz: deps fuzz-build
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_NAMES)

bench: deps all
	@sh tests/bench/run.sh $(BUILD)
	@sh tests/bench/delivery.sh $(BUILD)
	@sh tests/bench/sync.sh $(BUILD)

demo: deps all
	@sh contrib/demo.sh $(BUILD)

lint:
	@! grep -nE '\b(atoi|atol|sprintf|strcpy|strcat|strncpy|strtok|gets|sscanf)\(' \
	    src/*.[ch] handlers/*.[ch] $(wildcard adapters/*.[ch]) || \
	    { echo "lint: banned function (STYLE.md rule 18)"; exit 1; }

FORMAT_FILES = $(wildcard src/*.[ch] handlers/*.[ch] adapters/*.[ch] \
               tests/unit/*.[ch] tests/fuzz/*.c tests/bench/*.c tests/fakes/*.c)
format:
	clang-format -i $(FORMAT_FILES)

check-format:
	@clang-format --dry-run --Werror $(FORMAT_FILES)

clean:
	rm -rf build build-asan build-fuzz

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d) $(UNIT_SRC:%.c=$(BUILD)/%.d)
