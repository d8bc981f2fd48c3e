-- bench/make_import.sql: the codes a shop brings from the seed service's
-- table store (psql variable n), for import_ext.sql and import_hand.sql:
-- version 1 UUID texts, as the seed made them, in the order of its table
-- (by code), a tenth of them used.  Not timed.
CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
DROP TABLE IF EXISTS import_src;
CREATE TABLE import_src AS
SELECT code, (random() < 0.1)::integer AS uses
FROM (SELECT uuid_generate_v1()::text AS code FROM generate_series(1, :n)) AS s
ORDER BY code;
VACUUM (ANALYZE) import_src;
