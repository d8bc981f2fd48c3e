-- examples/setup.sql: what a shop's admin does once, in the shop's
-- database, as a superuser: install codes, create the shop's orders
-- table and the application's login role (codes_app and its own table:
-- it places orders and marks them refunded, nothing more), and make this season's batches of coupon codes, each with
-- the metadata that says what it grants.  Prints the codes handed out, one
-- a line, for the flyers (and for examples/shop.py):
--
--   psql -d shop -v app_password=... -f examples/setup.sql > codes.txt
--
-- For a fresh database: batch names are unique, so a second run stops at
-- the first batch.  app_password defaults to 'shop'.

\set ON_ERROR_STOP on
\set QUIET on
\pset format unaligned
\pset tuples_only on
\if :{?app_password}
\else
\set app_password shop
\endif

CREATE EXTENSION IF NOT EXISTS codes;

-- an order exists only with the use of its code (see shop.py); its
-- reference, the shop's order number, is the reference of that use, by
-- which a refund undoes it
CREATE TABLE shop_orders (
	id					bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	reference			text NOT NULL UNIQUE,
	customer			text NOT NULL,
	code				text NOT NULL,		-- as the customer typed it
	batch				text NOT NULL,
	discount_percent	integer,
	free_shipping		boolean NOT NULL DEFAULT false,
	placed_at			timestamptz NOT NULL DEFAULT now(),
	refunded_at			timestamptz			-- with the undo of its use
);

-- the application logs in as shop_app: roles belong to the cluster, so it
-- may exist already (then it gets the password given here)
SELECT format(CASE WHEN EXISTS (SELECT FROM pg_roles WHERE rolname = 'shop_app')
				   THEN 'ALTER ROLE shop_app LOGIN PASSWORD %L'
				   ELSE 'CREATE ROLE shop_app LOGIN PASSWORD %L' END,
			  :'app_password') \gexec
GRANT codes_app TO shop_app;
GRANT SELECT, INSERT, UPDATE (refunded_at) ON shop_orders TO shop_app;

-- this season's coupons
CREATE TEMP TABLE handed_out (batch text, code text);

-- the spring campaign: 10% off, each code once, for a month
INSERT INTO handed_out
SELECT 'spring-10', code
FROM codes.code_gen(10, now(), now() + interval '30 days',
					pattern => 'SAVE10-#####-#####^', batch => 'spring-10',
					metadata => '{"discount_percent": 10}') AS code;

-- free shipping: a code for the newsletter, 50 uses, once per customer
INSERT INTO handed_out
SELECT 'free-shipping', code
FROM codes.code_gen(2, now(), NULL, max_uses => 50, max_uses_per_redeemer => 1,
					pattern => 'SHIP-#####-#####^', batch => 'free-shipping',
					metadata => '{"free_shipping": true}') AS code;

-- the summer sale starts next month
INSERT INTO handed_out
SELECT 'summer-15', code
FROM codes.code_gen(3, now() + interval '30 days', now() + interval '60 days',
					pattern => 'SUMMER-#####-#####^', batch => 'summer-15',
					metadata => '{"discount_percent": 15}') AS code;

-- the winter sale is over
INSERT INTO handed_out
SELECT 'winter-20', code
FROM codes.code_gen(3, now() - interval '60 days', now() - interval '30 days',
					pattern => 'WINTER-#####-#####^', batch => 'winter-20',
					metadata => '{"discount_percent": 20}') AS code;

-- a partner leaked its 50% codes: revoked
INSERT INTO handed_out
SELECT 'partner-50', code
FROM codes.code_gen(3, now(), now() + interval '30 days',
					pattern => 'SAVE50-#####-#####^', batch => 'partner-50',
					metadata => '{"discount_percent": 50}') AS code;
SELECT codes.batch_revoke('partner-50') AS revoked \gset

SELECT code FROM handed_out ORDER BY batch, code;
