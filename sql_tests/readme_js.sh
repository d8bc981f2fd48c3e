#!/bin/sh
# The README's JavaScript checker (Patterns, The check digit) answers as
# codes.code_valid does: on codes of patterns of symbols, of digits and of
# both, as handed out, with one symbol changed, with two neighbours
# swapped, as pasted (dashes, no-break spaces, full width, a trailing
# newline) and with characters that are not read as anything (other
# scripts' letters and digits, characters whose upper case is ASCII).
# Runs the code block of README.md as it stands with node.  Run inside a
# cluster (for example under pg_virtualenv); prints a pg_regress-style
# result line.
set -u

db=codes_readme_js
dir=$(mktemp -d)
trap 'rm -rf "$dir"; dropdb --if-exists $db 2>/dev/null' EXIT

run() {
	command -v node >/dev/null || { echo "node is not installed (sh scripts/deps.sh installs nodejs)"; return 1; }
	# the block after the heading, up to its closing fence
	sed -n '/^### The check digit$/,/^## /p' README.md |
		sed -n '/^```js$/,/^```$/p' | sed '1d;$d' >"$dir/check.js"
	grep -q 'function checkOk' "$dir/check.js" || { echo "README.md: no checkOk under The check digit"; return 1; }

	dropdb --if-exists $db 2>/dev/null
	createdb $db || return 1
	psql -X -q -At -v ON_ERROR_STOP=1 -d $db >"$dir/cases.json" <<'SQL' || { cat "$dir/cases.json"; return 1; }
CREATE EXTENSION codes;
SET codes.max_guess_chance = 1;
SELECT setseed(0.25);
CREATE TEMP TABLE cs AS
SELECT p, code
FROM unnest(ARRAY['GIFT-####-####-###^', '****-****-****-****-^', 'SHOP-####-****-####-****-^',
				  '##*#*^-X', '***^', 'vip.###########', '*#*#*#']) p,
	 LATERAL codes.code_gen(200, NULL, NULL, pattern => p) code;
CREATE TEMP TABLE inp AS
SELECT p, code AS i FROM cs
UNION ALL
SELECT p, overlay(code placing substr('0123456789ABCDEFGHJKMNPQRSTUVWXYZOIL', 1 + floor(random() * 36)::int, 1)
				  from 1 + floor(random() * length(code))::int for 1)
FROM cs, generate_series(1, 5)
UNION ALL
SELECT p, overlay(code placing substr(code, k + 1, 1) || substr(code, k, 1) from k for 2)
FROM (SELECT p, code, 1 + floor(random() * (length(code) - 1))::int AS k FROM cs, generate_series(1, 5)) s
UNION ALL SELECT p, lower(replace(code, '-', U&'\2013')) || E'\n' FROM cs
UNION ALL SELECT p, replace(code, '-', U&'\00A0\200B') FROM cs
UNION ALL SELECT p, translate(code, '0123456789ABCDEFGHJKMNPQRSTUVWXYZ-',
							  U&'\FF10\FF11\FF12\FF13\FF14\FF15\FF16\FF17\FF18\FF19\FF21\FF22\FF23\FF24\FF25\FF26\FF27\FF28\FF2A\FF2B\FF2D\FF2E\FF30\FF31\FF32\FF33\FF34\FF35\FF36\FF37\FF38\FF39\FF3A\FF0D') FROM cs
UNION ALL SELECT p, replace(lower(code), 'i', U&'\0131') FROM cs
UNION ALL SELECT p, code || U&'\017F' FROM cs
UNION ALL SELECT p, translate(code, '0123456789', U&'\0660\0661\0662\0663\0664\0665\0666\0667\0668\0669') FROM cs;
SELECT json_agg(json_build_array(i, p, codes.code_valid(i, p))) FROM inp;
SQL
	cat >>"$dir/check.js" <<'JS'
const cases = JSON.parse(require("fs").readFileSync(process.argv[2], "utf8"));
let valid = 0, wrong = 0;
for (const [code, pattern, v] of cases) {
  if (v) valid++;
  if (checkOk(code, pattern) !== v) {
    if (++wrong <= 5) console.log("checkOk(" + JSON.stringify(code) + ", " + JSON.stringify(pattern) + ") is not " + v);
  }
}
if (cases.length < 20000 || valid < 5000 || wrong > 0) {
  console.log(cases.length + " cases, " + valid + " valid, " + wrong + " answered otherwise than code_valid");
  process.exit(1);
}
JS
	node "$dir/check.js" "$dir/cases.json"
}

if run; then
	echo "test readme_js                     ... ok"
else
	echo "test readme_js                     ... FAILED"
fi
