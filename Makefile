EXTENSION = codes
EXTVERSION = 1.2

MODULE_big = codes
OBJS = extension/codes.o extension/gen.o extension/alphabet.o extension/batch.o extension/brake.o extension/keys.o extension/progress.o
SHLIB_LINK = -luuid

DATA = $(wildcard extension/codes--*.sql)

REGRESS = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --inputdir=.

ISOLATION = $(patsubst sql_tests/specs/%.spec,%,$(sort $(wildcard sql_tests/specs/*.spec)))
ISOLATION_OPTS = --inputdir=sql_tests

# TAP tests start their own clusters (initdb refuses to run as root).
TAP_TESTS = 1
PROVE_TESTS = $(sort $(wildcard sql_tests/t/*.pl))

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
