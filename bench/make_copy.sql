-- bench/make_copy.sql: write n rows of hand_codes to the server-side file
-- :'copyfile' for gen_copy.sql.  Not timed.
COPY (SELECT gen_random_uuid(), 1, false, now(), now() + interval '1 year',
			 NULL::timestamptz, NULL::text
	  FROM generate_series(1, :n))
TO :'copyfile';
