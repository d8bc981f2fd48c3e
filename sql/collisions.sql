--
-- A new code that collides with an existing one is replaced by another:
-- never a unique-violation error, never a short batch.
--
CREATE EXTENSION codes;

-- Random UUIDs practically never collide, so make collisions certain: an
-- extra unique index that allows only 256 different first bytes.
CREATE UNIQUE INDEX first_byte ON codes.codes ((substr(code::text, 1, 2)));

SELECT count(*) AS codes, count(DISTINCT substr(code, 1, 2)) AS first_bytes
FROM codes.code_gen(200, NULL, NULL, batch => 'crowded') AS code;

-- every code returned is stored, in its batch, and nothing else is
SELECT count(*) AS stored FROM codes.codes c
JOIN codes.batch b ON b.id = c.batch WHERE b.name = 'crowded';

-- and when 50 new codes must find the last 56 free first bytes
SELECT count(*) AS codes FROM codes.code_gen(50, NULL, NULL) AS code;
SELECT count(*) AS stored FROM codes.codes;

DROP INDEX codes.first_byte;
DROP EXTENSION codes;
