--
-- code_gen: one batch of new, unused, unique codes.
--
CREATE EXTENSION codes;

CREATE TEMP TABLE spring AS
SELECT code FROM codes.code_gen(1000, now() - interval '1 day',
								now() + interval '1 day',
								batch => 'spring') AS code;

-- num codes come back, all different, as lower-case version 4 UUIDs
SELECT count(*) AS returned, count(DISTINCT code) AS distinct_codes FROM spring;
SELECT count(*) AS v4_lower_case FROM spring
WHERE code ~ '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$';

-- each returned code is stored once, in binary form, in the new batch
SELECT count(*) AS stored FROM codes.codes c JOIN spring s ON c.code = s.code::uuid;
SELECT b.name, b.max_uses, b.valid_until - b.valid_from AS period,
	   count(c.*) AS codes, sum(c.uses) AS uses,
	   count(c.used_at) AS used_at, count(c.used_by) AS used_by
FROM codes.batch b JOIN codes.codes c ON c.batch = b.id
GROUP BY b.id;

-- all are unused and usable now
SELECT codes.code_query(code) AS status, count(*) FROM spring GROUP BY 1;

-- NULL ends mean an open period; a one-instant period is allowed
SELECT count(*) FROM codes.code_gen(2, NULL, NULL, batch => 'open');
SELECT count(*) FROM codes.code_gen(1, now(), now(), batch => 'instant');
SELECT count(*) FROM codes.code_gen(1, NULL, now(), batch => 'until');
SELECT name, valid_from IS NULL AS open_from, valid_until IS NULL AS open_until
FROM codes.batch WHERE name IN ('open', 'instant', 'until') ORDER BY id;

-- unnamed batches get distinct generated names
SELECT count(*) FROM codes.code_gen(1, NULL, NULL);
SELECT count(*) FROM codes.code_gen(1, NULL, NULL);
SELECT count(*) AS generated_names, count(DISTINCT name) AS distinct_names
FROM codes.batch WHERE name ~ '^batch-[0-9]+$';

-- a generated name that a batch took by hand is skipped, not an error
SELECT count(*) FROM codes.code_gen(1, NULL, NULL,
	batch => (SELECT 'batch-' || (last_value + 2) FROM codes.batch_id_seq));
SELECT count(*) FROM codes.code_gen(1, NULL, NULL);
SELECT count(*) AS batches, count(DISTINCT name) AS distinct_names
FROM codes.batch;

-- codes are unique across all batches
SELECT count(*) AS codes, count(DISTINCT code) AS distinct_codes FROM codes.codes;

-- several batches in one statement each get their own rows
SELECT count(*) FROM (VALUES ('a1'), ('a2')) v(name),
	LATERAL codes.code_gen(3, NULL, NULL, batch => v.name);
SELECT b.name, count(*) FROM codes.batch b JOIN codes.codes c ON c.batch = b.id
WHERE b.name IN ('a1', 'a2') GROUP BY 1 ORDER BY 1;

-- more than one chunk (10,000 codes with this setting) is still one whole
-- batch
SET maintenance_work_mem = '1MB';
SELECT count(*), count(DISTINCT code) FROM codes.code_gen(25001, NULL, NULL, batch => 'big') code;
RESET maintenance_work_mem;
SELECT count(*) FROM codes.codes WHERE batch = (SELECT id FROM codes.batch WHERE name = 'big');

DROP EXTENSION codes;
