-- Load test setup: a pool of codes valid now, codes that expired, the
-- ledger the clients write their answers into, and graveyard, where a
-- trigger keeps each row code_del removes (uses included).
CREATE EXTENSION codes;
SELECT count(*) FROM codes.code_gen(:pool, now() - interval '1 day', now() + interval '1 day', batch => 'pool');
SELECT count(*) FROM codes.code_gen(100, '2000-01-01', '2000-12-31', batch => 'expired');

-- pool codes are 1 .. :pool, expired ones follow
CREATE TABLE pool AS
SELECT row_number() OVER (ORDER BY b.id, c.code)::integer AS n, c.code::text AS code, b.name AS batch
FROM codes.codes c JOIN codes.batch b ON b.id = c.batch;
CREATE UNIQUE INDEX ON pool (n);

CREATE TABLE ledger (op text NOT NULL, code text, result text NOT NULL);

CREATE TABLE graveyard (LIKE codes.codes);
CREATE FUNCTION bury() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.graveyard SELECT OLD.*;
	RETURN NULL;
END
$$;
CREATE TRIGGER bury AFTER DELETE ON codes.codes FOR EACH ROW EXECUTE FUNCTION bury();

-- a named batch of 50, or 'taken' when the name is (SQLSTATE 23505)
CREATE FUNCTION gen_named(name text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	RETURN (SELECT count(*) FROM codes.code_gen(50, NULL, NULL, batch => name))::text;
EXCEPTION WHEN unique_violation THEN
	RETURN 'taken';
END
$$;
