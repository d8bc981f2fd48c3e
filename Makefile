EXTENSION = codes
EXTVERSION = 1.0

MODULE_big = codes
OBJS = extension/codes.o extension/gen.o extension/alphabet.o extension/batch.o extension/brake.o extension/keys.o
SHLIB_LINK = -luuid

DATA = $(wildcard extension/codes--*.sql)

REGRESS = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --inputdir=.

ISOLATION = $(patsubst sql_tests/specs/%.spec,%,$(sort $(wildcard sql_tests/specs/*.spec)))
ISOLATION_OPTS = --inputdir=sql_tests

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
