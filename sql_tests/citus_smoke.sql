-- codes on Citus, exploratory (sql_tests/citus_smoke.sh runs it on the
-- coordinator with psql -a, going on after errors): what CREATE EXTENSION
-- does, whether the tables distribute, and what the functions do through
-- the coordinator afterwards.  Its output is read, not compared.
\set VERBOSITY default
\set SHOW_CONTEXT errors
\pset null '(null)'

-- 1. CREATE EXTENSION on the coordinator: does it reach the workers?
CREATE EXTENSION codes;
SELECT extname, extversion FROM pg_extension WHERE extname IN ('citus', 'codes') ORDER BY 1;
SELECT nodeport, result AS codes_extension_on_worker FROM run_command_on_workers(
	$$SELECT coalesce((SELECT extversion FROM pg_extension WHERE extname = 'codes'), 'absent')$$)
ORDER BY nodeport;
SELECT nodeport, result AS codes_roles_on_worker FROM run_command_on_workers(
	$$SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles WHERE rolname LIKE 'codes%'$$)
ORDER BY nodeport;

-- the tables, before distribution
SELECT c.oid::regclass AS table_name, i.indexrelid::regclass AS index_name, pg_get_indexdef(i.indexrelid) AS indexdef
FROM pg_class c JOIN pg_index i ON i.indrelid = c.oid
WHERE c.relnamespace = 'codes'::regnamespace ORDER BY 1, 2;
SELECT conrelid::regclass AS table_name, conname, contype FROM pg_constraint
WHERE connamespace = 'codes'::regnamespace ORDER BY 1, 2;
SELECT tgrelid::regclass AS table_name, tgname, tgenabled FROM pg_trigger
WHERE tgrelid IN ('codes.batch'::regclass, 'codes.codes'::regclass, 'codes.redemption_log'::regclass)
  AND NOT tgisinternal ORDER BY 1, 2;
SELECT c.oid::regclass AS sequence_name, d.refobjid::regclass AS owned_by_table, s.seqtypid::regtype
FROM pg_class c JOIN pg_sequence s ON s.seqrelid = c.oid
	JOIN pg_depend d ON d.objid = c.oid AND d.deptype = 'a'
WHERE c.relnamespace = 'codes'::regnamespace ORDER BY 1;

-- a batch made while the tables are local to the coordinator
SELECT count(*) AS codes_before FROM codes.code_gen(3, NULL, NULL, batch => 'before');

-- 2. Distribution, as the issue describes
SET citus.enable_unsafe_triggers = on;
SET citus.allow_unsafe_constraints = on;
SELECT create_reference_table('codes.batch');
SELECT create_distributed_table('codes.codes', 'code');
SELECT create_distributed_table('codes.redemption_log', 'code', colocate_with => 'codes.codes');
-- (citus_tables and citus_shards list no table of an extension)
SELECT logicalrelid, partmethod, column_to_column_name(logicalrelid, partkey) AS distribution_column,
	   colocationid, repmodel FROM pg_dist_partition ORDER BY 1;
SELECT tgrelid::regclass AS table_name, tgname, tgenabled, tgisinternal, tgfoid::regproc AS function
FROM pg_trigger WHERE tgrelid::regclass::text LIKE 'codes.%' ORDER BY 1, 2;
SELECT nodeport, result AS sequences_on_worker FROM run_command_on_workers(
	$$SELECT string_agg(sequencename || ' ' || data_type::text || ' from ' || start_value, '; ' ORDER BY sequencename)
	  FROM pg_sequences WHERE schemaname = 'codes'$$)
ORDER BY nodeport;
SELECT nodeport, result AS codes_shards_per_worker FROM run_command_on_workers(
	$$SELECT count(*) FROM pg_class WHERE relnamespace = 'codes'::regnamespace AND relkind = 'r'$$)
ORDER BY nodeport;
SELECT nodeport, result AS shard_triggers FROM run_command_on_workers(
	$$SELECT string_agg(DISTINCT tgname || ' ' || tgenabled::text, ', ') FROM pg_trigger
	  WHERE tgrelid::regclass::text LIKE 'codes.batch%' AND NOT tgisinternal$$)
ORDER BY nodeport;
SELECT nodeport, result AS shard_unique_indexes FROM run_command_on_workers(
	$$SELECT string_agg(DISTINCT regexp_replace(pg_get_indexdef(indexrelid), '_[0-9]+', '_N', 'g'), '; ')
	  FROM pg_index WHERE indisunique AND indrelid IN
	  (SELECT oid FROM pg_class WHERE relnamespace = 'codes'::regnamespace AND relname LIKE 'codes_%')$$)
ORDER BY nodeport;
-- the rows of batch 'before': where are they now?
SELECT count(*) AS codes_rows_through_citus FROM codes.codes;
SELECT pg_relation_size('codes.codes') AS coordinator_shell_table_bytes;

-- 3. The functions through the coordinator, after distribution
SELECT codes.code_gen(1, NULL, NULL, batch => 'b1') AS c1 \gset
SELECT :'c1' AS c1;
SELECT count(*) AS codes_rows_through_citus FROM codes.codes;
SELECT pg_relation_size('codes.codes') AS coordinator_shell_table_bytes;
SELECT result AS shard_rows FROM run_command_on_shards('codes.codes', 'SELECT count(*) FROM %s') WHERE result <> '0';
SELECT codes.code_query(:'c1');
SELECT codes.code_use(:'c1', 'alice');
SELECT codes.code_query(:'c1');
SELECT uses, used_by FROM codes.codes WHERE code = :'c1'::uuid;
SELECT * FROM codes.batch_codes('b1');
SELECT codes.code_gen(1, NULL, NULL, batch => 'b2') AS c2 \gset
SELECT codes.batch_revoke('b2');
SELECT codes.code_query(:'c2');
SELECT codes.code_use(:'c2');
SELECT * FROM codes.batch_codes('b2');
SELECT codes.code_del(:'c1');
SELECT count(*) AS c1_rows_after_del FROM codes.codes WHERE code = :'c1'::uuid;
SELECT codes.code_query(:'c1');
-- multi-use (writes codes.redemption_log), undo, redeem, check
SELECT codes.code_gen(1, NULL, NULL, batch => 'multi', max_uses => 3) AS m1 \gset
SELECT codes.code_use(:'m1', 'bob');
SELECT codes.code_undo(:'m1', 'bob');
SELECT * FROM codes.code_redeem(:'m1', 'bob');
SELECT * FROM codes.code_check(:'m1', 'bob');
SELECT count(*) AS redemption_log_rows FROM codes.redemption_log;
-- patterned and hashed
SELECT codes.code_gen(1, NULL, NULL, pattern => 'GIFT-########-########-^', batch => 'pat') AS p1 \gset
SELECT codes.code_query(:'p1');
SELECT codes.code_use(:'p1');
SELECT shown FROM codes.codes WHERE shown = :'p1';
SELECT codes.code_gen(1, NULL, NULL, batch => 'hashed', store => 'hmac') AS h1 \gset
SELECT codes.code_use(:'h1');
-- the views and the admin's batch functions
SELECT name, issued, used_up, uses_left, state FROM codes.batches ORDER BY name;
SELECT * FROM codes.redemptions ORDER BY used_at;
SELECT codes.batch_del('b2');
SELECT codes.batch_purge(now(), true);
-- a code of the batch made before distribution
SELECT count(*) AS before_codes FROM codes.batch_codes('before');

-- 4. What a backend remembers of codes.batch after a change to it: this
-- session remembers both batches, then another session ends one and this
-- one the other
SELECT codes.code_gen(1, NULL, now() + interval '1 day', batch => 'ends_elsewhere') AS e1 \gset
SELECT codes.code_gen(1, NULL, now() + interval '1 day', batch => 'ends_here') AS e2 \gset
\c
SELECT codes.code_query(:'e1'), codes.code_query(:'e2');
\! psql -X -c "SELECT codes.batch_extend('ends_elsewhere', now() - interval '1 day')"
SELECT name, state FROM codes.batches WHERE name IN ('ends_elsewhere', 'ends_here');
SELECT codes.code_query(:'e1');
SELECT codes.code_use(:'e1');
SELECT codes.batch_extend('ends_here', now() - interval '1 day');
SELECT codes.code_query(:'e2');
SELECT codes.code_use(:'e2');
\c
SELECT codes.code_query(:'e1'), codes.code_query(:'e2');

-- 5. The same functions on a worker (its shell tables, with Citus's
-- metadata)
SELECT codes.code_gen(1, NULL, NULL, batch => 'w') AS w1 \gset
\c - - - :worker_port
SELECT codes.code_query(:'w1');
SELECT * FROM codes.code_check(:'w1');
SELECT * FROM codes.code_redeem(:'w1');
SELECT codes.code_use(:'w1');
SELECT count(*) FROM codes.code_gen(1, NULL, NULL, batch => 'made_on_worker');
