/* extension/codes--1.1--1.2.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION codes UPDATE TO '1.2'" to load this file. \quit

--
-- 1.2: correct on every PostgreSQL setup: parallel query, SERIALIZABLE,
-- triggers on the extension's tables, logical replication.
--

/*
 * Labels that say what the functions do.  code_query and code_status read
 * codes.batch with the latest snapshot (batch.c), not the caller's, and
 * through SPI: neither is STABLE, and neither may run in parallel mode, not
 * even in the leader, where the latest snapshot cannot be taken.
 * batch_codes calls code_status.
 */
ALTER FUNCTION codes.code_query(text) VOLATILE;
ALTER FUNCTION codes.code_status(integer, integer) VOLATILE PARALLEL UNSAFE;
ALTER FUNCTION codes.batch_codes(text) VOLATILE;

/*
 * Every backend forgets what it remembers of codes.batch when a row of it
 * changes.  Row triggers rather than one statement trigger, because the
 * logical replication apply worker fires row triggers only; and enabled
 * ALWAYS, so that they fire there and under session_replication_role =
 * replica too.  TRUNCATE has only statement triggers.  A backend caches
 * batches only while both triggers are enabled ALWAYS (batch.c).
 */
DROP TRIGGER batch_changed ON codes.batch;

CREATE TRIGGER batch_changed
	AFTER INSERT OR UPDATE OR DELETE ON codes.batch
	FOR EACH ROW EXECUTE FUNCTION codes.batch_changed();

CREATE TRIGGER batch_truncated
	AFTER TRUNCATE ON codes.batch
	FOR EACH STATEMENT EXECUTE FUNCTION codes.batch_changed();

ALTER TABLE codes.batch ENABLE ALWAYS TRIGGER batch_changed;
ALTER TABLE codes.batch ENABLE ALWAYS TRIGGER batch_truncated;
