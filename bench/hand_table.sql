-- bench/hand_table.sql: the hand-written alternative to the extension.
--
-- What an experienced PostgreSQL user writes for single-use codes when the
-- extension does not exist: one table, the code as a 16-byte uuid primary
-- key, the batch it belongs to, a status, its validity window (NULL = open
-- on that side, as in the extension) and who used it when.  One table and
-- no join keeps the hand-written use and query as fast as plain SQL gets.
-- The columns are in an order that wastes no alignment padding beyond the
-- boolean's: uuid (16) + integer (4) + boolean (1, padded to 8) + two
-- timestamptz (16) = 40 bytes of data per unused code.
CREATE TABLE hand_codes (
	code		uuid PRIMARY KEY,
	batch		integer NOT NULL,
	used		boolean NOT NULL DEFAULT false,
	valid_from	timestamptz,
	valid_until	timestamptz,
	used_at		timestamptz,
	used_by		text
);
