/* extension/codes--1.2--1.3.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION codes UPDATE TO '1.3'" to load this file. \quit

--
-- 1.3: promo codes as shops run them: multi-use codes whose cost stays flat
-- in their past uses and whose customers do not queue behind each other;
-- hardening; codes a merchant chooses and controls one by one; holds,
-- references and refunds.
--

--
-- 1.3: random digits in patterns (issue 25).  From 1.3 on, "*" in a
-- pattern is a random digit; 1.2 read it as a literal.  codes.batch keeps
-- each batch's pattern, and the codes of a batch whose pattern has a "*"
-- would no longer have its shape: they would no longer be found.  Refuse
-- the update while such a batch exists, naming the first few.
--
DO $$
DECLARE
	found		bigint;
	names		text;
BEGIN
	SELECT pg_catalog.count(*),
		   pg_catalog.string_agg(pg_catalog.quote_literal(f.name), ', ')
			 FILTER (WHERE f.n OPERATOR(pg_catalog.<=) 5)
	INTO found, names
	FROM (SELECT b.name, pg_catalog.row_number() OVER (ORDER BY b.id) AS n
		  FROM codes.batch AS b
		  WHERE pg_catalog.strpos(b.pattern, '*') OPERATOR(pg_catalog.>) 0) AS f;
	IF found OPERATOR(pg_catalog.>) 0 THEN
		RAISE EXCEPTION 'a batch has a pattern with "*", which 1.3 reads as a random digit'
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = pg_catalog.format('Batches with such a pattern: %s, the first %s. Their codes were made with "*" as a literal, and would no longer be found.', found, names),
				  HINT = 'Delete those batches (codes.batch_del) once their codes are no longer needed, then update; until then, keep the files of version 1.2 installed.';
	END IF;
END
$$;
