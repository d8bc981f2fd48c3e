--
-- Input of a code: case, spaces and hyphens do not matter, nor what a
-- paste adds (white space, full-width digits); anything that cannot be a
-- code is simply not found.
--
CREATE EXTENSION codes;

CREATE TEMP TABLE c AS SELECT code FROM codes.code_gen(1, NULL, NULL) AS code;

CREATE TEMP TABLE forms AS
SELECT form, codes.code_query(input) AS status
FROM c, LATERAL (VALUES
	('as handed out', code),
	('upper case', upper(code)),
	('no hyphens', replace(code, '-', '')),
	('spaces for hyphens', replace(code, '-', ' ')),
	('groups of four', regexp_replace(replace(code, '-', ''), '(....)', '\1 ', 'g')),
	('hyphen after every symbol', regexp_replace(code, '([0-9a-f])', '\1-', 'g')),
	('leading and trailing spaces', '   ' || code || '   '),
	('a megabyte of spaces first', repeat(' ', 1000000) || code),
	('mixed case', upper(left(code, 18)) || substr(code, 19)),
	-- since 1.3: what a paste adds (see pasted_input.sql for all of it)
	('a tab inside', replace(code, '-', E'\t')),
	('a newline inside', replace(code, '-', E'\n')),
	('full-width digits', translate(code, '0123456789', '０１２３４５６７８９'))
) AS v(form, input);
SELECT * FROM forms;

-- whatever cannot be a code is not found, never an error
CREATE TEMP TABLE hostile AS
SELECT form, input
FROM c, LATERAL (VALUES
	('empty', ''),
	('only separators', ' - - '),
	('one digit short', left(replace(code, '-', ''), 31)),
	('one digit too many', replace(code, '-', '') || '0'),
	('braces', '{' || code || '}'),
	('urn form', 'urn:uuid:' || code),
	('a non-hex letter', 'g' || substr(code, 2)),
	('Arabic-Indic digits', translate(code, '0123456789', '٠١٢٣٤٥٦٧٨٩')),
	('a combining mark', left(code, 1) || U&'\0301' || substr(code, 2)),
	('quotes', '''' || code || ''''),
	('backslashes', E'\\' || code),
	('sql', code || ''' OR ''1''=''1'),
	('a megabyte of digits', repeat('a', 1000000)),
	('every ASCII control', (SELECT string_agg(chr(i), '') FROM generate_series(1, 31) i))
) AS v(form, input);

SELECT form, codes.code_query(input) AS query, codes.code_use(input) AS use
FROM hostile ORDER BY form;
SELECT codes.code_del(input) AS del, count(*) FROM hostile GROUP BY 1;

-- none of that touched the code
SELECT codes.code_query(code) FROM c;

-- an upper-case UUID uses the code, and then it is used up in every form
SELECT codes.code_use(upper(code)) FROM c;
SELECT codes.code_use(code), codes.code_query(replace(code, '-', ' ')) FROM c;

DROP EXTENSION codes;
