# ikeagent build. `make` builds build/ikeagent; `make check` runs every test;
# `make test` is the one command CI runs (deps, sanitized tests, fuzz smoke).
#
# Layout: every .c under util/ eap/ ike/ esp/ transport/ tun/ agent/ goes into
# one static library (agent/main.c excepted); each tests/unit/test_*.c is a
# Check program; each tests/fuzz/fuzz_*.c a libFuzzer target whose corpus
# lives in tests/fuzz/corpus/NAME/.
# nm/ is the NetworkManager plugin service, not a module: its sources stay
# out of the library and GLib/libnm/json-glib are linked into it alone. It is
# built when pkg-config finds libnm (scripts/deps.sh installs it).

CC      ?= cc
SAN     ?= 0
BUILD   ?= build
ifeq ($(SAN),1)
BUILD   := build-san
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
endif

# libcurl's headers only: transport/curl_dl.c loads libcurl.so.4 with dlopen
# when a proxy is first used, so no binary links it (its dependency tree
# costs ~0.5-0.7 MB of written library data in every process that maps it).
PKGS     = openssl libcurl libmnl libcap-ng
LINK_PKGS = openssl libmnl libcap-ng
WARN     = -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wvla -Wstrict-prototypes \
           -Wmissing-prototypes -Wno-unused-parameter
CFLAGS  ?= -O2 -g
ALL_CFLAGS = -std=gnu11 -D_GNU_SOURCE -I. $(WARN) $(CFLAGS) $(SANFLAGS) \
             $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS_ALL = $(shell pkg-config --libs $(LINK_PKGS) 2>/dev/null || echo -lssl -lcrypto -lmnl -lcap-ng)
TEST_LIBS  = $(shell pkg-config --libs check libsodium 2>/dev/null || echo -lcheck -lsodium) -lm

# MODULES lets one module be built and tested alone: make MODULES="util esp" ...
MODULES ?= util eap ike esp transport tun agent
LIB_SRC  = $(filter-out agent/main.c relay/main.c,$(foreach m,$(MODULES),$(wildcard $(m)/*.c)))
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIB      = $(BUILD)/libikeagent.a
TESTS    = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
FUZZ_SRC = $(wildcard tests/fuzz/fuzz_*.c)
FUZZERS  = $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
REPLAYS  = $(patsubst tests/fuzz/%.c,$(BUILD)/replay/%,$(FUZZ_SRC))
RELAY_SRC = $(wildcard relay/*.c)

FUZZ_SECONDS ?= 30

# The NetworkManager VPN plugin service. GLib's headers are included as
# system headers (-isystem) so our warnings apply to our code only.
NM_PKGS    = libnm glib-2.0 gio-unix-2.0 json-glib-1.0
HAVE_NM   := $(shell pkg-config --exists $(NM_PKGS) 2>/dev/null && echo 1)
NM_CFLAGS  = $(patsubst -I%,-isystem %,$(shell pkg-config --cflags $(NM_PKGS) 2>/dev/null))
NM_LIBS    = $(shell pkg-config --libs $(NM_PKGS) 2>/dev/null)
NM_SRC     = $(wildcard nm/*.c)
NM_SERVICE = $(if $(HAVE_NM),$(BUILD)/nm-ikeagent-service $(BUILD)/nm-ikeagent-auth-dialog)

# make install: PREFIX, DESTDIR as usual. Units go where systemd looks for
# an administrator's units (/usr/local/lib/systemd/system by default); the
# configuration directory is /etc/ikeagent whatever the PREFIX, because the
# units read it there.
PREFIX      ?= /usr/local
SBINDIR     ?= $(PREFIX)/sbin
MANDIR      ?= $(PREFIX)/share/man
DOCDIR      ?= $(PREFIX)/share/doc/ikeagent
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
CONFDIR     ?= /etc/ikeagent
# NetworkManager's plugin service; its .name file and D-Bus policy go where
# NetworkManager and dbus-daemon look, whatever the PREFIX.
LIBEXECDIR  ?= $(PREFIX)/lib/NetworkManager
NMVPNDIR    ?= /usr/lib/NetworkManager/VPN
DBUSPOLICYDIR ?= /usr/share/dbus-1/system.d
INSTALLED    = $(SBINDIR)/ikeagent $(SBINDIR)/ikerelay $(MANDIR)/man8/ikeagent.8 \
               $(MANDIR)/man8/ikerelay.8 $(MANDIR)/man5/ikeagent.conf.5 \
               $(DOCDIR)/agent.conf.example $(DOCDIR)/ikerelay.env.example $(DOCDIR)/README.md \
               $(UNITDIR)/ikeagent@.service $(UNITDIR)/ikerelay.service \
               $(SYSUSERSDIR)/ikeagent.conf \
               $(LIBEXECDIR)/nm-ikeagent-service $(LIBEXECDIR)/nm-ikeagent-auth-dialog \
               $(NMVPNDIR)/nm-ikeagent-service.name \
               $(DBUSPOLICYDIR)/nm-ikeagent-service.conf $(MANDIR)/man5/nm-ikeagent.5

.SECONDARY:

.PHONY: all check unit-check net-check dist-check fuzz fuzz-smoke asan deps demo test bench \
	clean install uninstall

all: $(BUILD)/ikeagent $(if $(RELAY_SRC),$(BUILD)/ikerelay) $(NM_SERVICE)
ifneq ($(HAVE_NM),1)
	@echo "nm-ikeagent-service: skipped (no libnm, glib or json-glib: run scripts/deps.sh)"
endif

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/ikeagent: $(BUILD)/obj/agent/main.o $(LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/ikerelay: $(RELAY_SRC:%.c=$(BUILD)/obj/%.o) $(LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS_ALL)

# The bench's delay tool (tests/net/nfqdelay.c): a test tool, not installed.
$(BUILD)/nfqdelay: tests/net/nfqdelay.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(shell pkg-config --libs libmnl 2>/dev/null || echo -lmnl)

$(BUILD)/obj/nm/%.o: nm/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(NM_CFLAGS) -DIKEAGENT_SBIN='"$(SBINDIR)/ikeagent"' -MMD -MP -c $< -o $@

$(BUILD)/nm-ikeagent-service: $(NM_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/util/err.o
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(NM_LIBS)

# What secret agents (nmcli --ask, passwd-file, GNOME Shell) run to learn the secrets.
$(BUILD)/nm-ikeagent-auth-dialog: $(BUILD)/obj/nm/auth-dialog/main.o $(BUILD)/obj/nm/props.o \
				  $(BUILD)/obj/util/err.o
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(NM_LIBS)

# Unit tests: one Check program per file.
# test_nm_props also needs nm/props.c (plain C, no GLib).
$(BUILD)/tests/test_nm_props: $(BUILD)/obj/tests/unit/test_nm_props.o $(BUILD)/obj/nm/props.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS_ALL) $(TEST_LIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS_ALL) $(TEST_LIBS)

# Fuzz corpora replayed by an ordinary build, so `make check` runs them too.
$(BUILD)/replay/%: $(BUILD)/obj/tests/fuzz/%.o $(BUILD)/obj/tests/fuzz/replay_main.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/obj/tests/fuzz/replay_main.o: tests/fuzz/replay_main.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# Each runner prints its counts (unit: passed, skipped, failed; net: the
# same) and fails under CI=true on any skip; see tests/unit/run.sh.
unit-check: $(TESTS) $(REPLAYS)
	@sh tests/unit/run.sh $(BUILD)

net-check: all
	@sh tests/net/run.sh $(BUILD)

# make install into a scratch DESTDIR, man pages linted, units verified.
dist-check: all
	@SAN=$(SAN) sh tests/dist/test_install.sh $(BUILD)

# All three run even when one fails, then both summaries again, last.
check: $(TESTS) $(REPLAYS) all
	@rc=0; rm -f $(BUILD)/unit-summary $(BUILD)/net-summary; \
	sh tests/unit/run.sh $(BUILD) || rc=1; \
	SAN=$(SAN) sh tests/dist/test_install.sh $(BUILD) || { rc=1; echo "dist: FAIL"; }; \
	sh tests/net/run.sh $(BUILD) || rc=1; \
	echo "==== check: summary"; \
	cat $(BUILD)/unit-summary 2>/dev/null || echo "unit: no summary (runner died)"; \
	cat $(BUILD)/net-summary 2>/dev/null || echo "net: no summary (runner died)"; \
	[ $$rc = 0 ] && echo "check: pass" || echo "check: FAIL"; exit $$rc

asan:
	$(MAKE) SAN=1 check

# libFuzzer targets, always clang, always with ASan+UBSan. The library is
# compiled once with -fsanitize=fuzzer-no-link and shared by every target.
FUZZ_CFLAGS = -std=gnu11 -D_GNU_SOURCE -I. -g -O1 -fsanitize=address,undefined \
              -fno-sanitize-recover=all $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
FUZZ_OBJ = $(LIB_SRC:%.c=$(BUILD)/fuzzobj/%.o)
$(BUILD)/fuzzobj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@
$(BUILD)/libfuzz.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^
$(BUILD)/fuzz/%: tests/fuzz/%.c $(BUILD)/libfuzz.a
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(BUILD)/libfuzz.a $(LDLIBS_ALL)

fuzz: $(FUZZERS)

fuzz-smoke: $(FUZZERS)
	@for f in $(FUZZERS); do \
	    n=$$(basename $$f); c=tests/fuzz/corpus/$${n#fuzz_}; w=$(BUILD)/fuzz/work-$${n#fuzz_}; \
	    mkdir -p $$w; echo "fuzz-smoke: $$n for $(FUZZ_SECONDS)s"; \
	    ./$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $$w $$c 2>$$w.log \
	      || { tail -50 $$w.log; exit 1; }; \
	    grep -E 'stat::number_of_executed_units' $$w.log; \
	done

deps:
	sh scripts/deps.sh

test:
	sh scripts/deps.sh
	$(MAKE) SAN=1 check
	$(MAKE) fuzz-smoke

demo:
	sh scripts/deps.sh
	$(MAKE) all
	sh scripts/demo.sh

bench: all $(BUILD)/nfqdelay
	BENCH_AGENT=$(BUILD)/ikeagent BENCH_NFQDELAY=$(BUILD)/nfqdelay sh scripts/bench

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(DOCDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	install -d -m 0700 $(DESTDIR)$(CONFDIR)
	install -m 0755 $(BUILD)/ikeagent $(BUILD)/ikerelay $(DESTDIR)$(SBINDIR)/
	install -m 0644 man/ikeagent.8 man/ikerelay.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 man/ikeagent.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 agent.conf.example systemd/ikerelay.env.example README.md $(DESTDIR)$(DOCDIR)/
	for u in ikeagent@.service ikerelay.service; do \
		sed 's|@SBINDIR@|$(SBINDIR)|g' systemd/$$u.in >$(BUILD)/$$u && \
		install -m 0644 $(BUILD)/$$u $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	install -m 0644 systemd/ikeagent.sysusers $(DESTDIR)$(SYSUSERSDIR)/ikeagent.conf
ifeq ($(HAVE_NM),1)
	install -d $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(NMVPNDIR) $(DESTDIR)$(DBUSPOLICYDIR)
	install -m 0755 $(BUILD)/nm-ikeagent-service $(BUILD)/nm-ikeagent-auth-dialog \
		$(DESTDIR)$(LIBEXECDIR)/
	sed 's|@LIBEXECDIR@|$(LIBEXECDIR)|g' nm/nm-ikeagent-service.name.in \
		>$(BUILD)/nm-ikeagent-service.name
	install -m 0644 $(BUILD)/nm-ikeagent-service.name $(DESTDIR)$(NMVPNDIR)/
	install -m 0644 nm/nm-ikeagent-service.conf $(DESTDIR)$(DBUSPOLICYDIR)/
	install -m 0644 man/nm-ikeagent.5 $(DESTDIR)$(MANDIR)/man5/
endif
	@if [ -z "$(DESTDIR)" ]; then sh scripts/install-users.sh $(SYSUSERSDIR)/ikeagent.conf; fi

# Users, groups and /etc/ikeagent stay (they may own files and hold secrets).
uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	-rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

clean:
	rm -rf build build-san

-include $(shell find $(BUILD)/obj $(BUILD)/fuzzobj -name '*.d' 2>/dev/null)
