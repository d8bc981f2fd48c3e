#!/bin/sh
# Key files for sql/hmac.sql, which a test cannot write itself with the
# right owner and mode: two good keys, a long one (more than a SHA-256
# block), a short one and an open one, owned by the server's user
# (postgres when run as root) and readable by it alone; and a symbolic
# link to the first, which a key file must not be.
set -eu
owner=${1:-postgres}
umask 077
rm -f /tmp/codes_regress_key_a /tmp/codes_regress_key_b /tmp/codes_regress_key_short /tmp/codes_regress_key_open \
	/tmp/codes_regress_key_link /tmp/codes_regress_key_long
printf '%s' 'first key, 32 bytes or more.first key, 32 bytes or more.' >/tmp/codes_regress_key_a
printf '%s' 'second key, also long enough.second key, also long enough.' >/tmp/codes_regress_key_b
printf '%s' 'a long key, longer than the 64-byte block of SHA-256, which HMAC hashes first' >/tmp/codes_regress_key_long
printf '%s' 'short' >/tmp/codes_regress_key_short
printf '%s' 'a key of 32 bytes that all may read' >/tmp/codes_regress_key_open
chmod 644 /tmp/codes_regress_key_open
ln -s /tmp/codes_regress_key_a /tmp/codes_regress_key_link
if [ "$(id -u)" = 0 ]; then
	chown "$owner" /tmp/codes_regress_key_a /tmp/codes_regress_key_b /tmp/codes_regress_key_long \
		/tmp/codes_regress_key_short /tmp/codes_regress_key_open
	chown -h "$owner" /tmp/codes_regress_key_link
fi
