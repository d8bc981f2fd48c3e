/*-------------------------------------------------------------------------
 *
 * lookup.c
 *	  The keys a code is looked up under: for text as a person typed it,
 *	  every key under which a batch of its shape would have stored it, plain
 *	  (the UUID, or the digest of a patterned code) or hashed (the HMAC
 *	  under the batch's server key).
 *
 * A look-up (store.c), generation (gen.c, which must see every key a new
 * code would be looked up under) and code_add (import.c, which stores a
 * given code under the key a look-up of it computes) decide here the same
 * way.  No message here contains a code.
 *
 * Calls batch.c (the shapes of the batches), keys.c (server keys, HMAC)
 * and text.c; called by store.c, gen.c and import.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "batch.h"
#include "input.h"
#include "keys.h"
#include "lookup.h"
#include "text.h"

/*
 * Add a candidate key to keys[*n], unless it is there already.
 */
static void
add_key(pg_uuid_t *keys, int *n, const pg_uuid_t *key)
{
	int			i;

	for (i = 0; i < *n; i++)
		if (memcmp(keys[i].data, key->data, UUID_LEN) == 0)
			return;
	keys[(*n)++] = *key;
}

/*
 * The keys that text in canonical form may be stored under, one for each
 * of the given shapes that the text has, and how many there are (at most
 * nshapes; keys holds that many).  This is where a look-up and generation
 * (gen.c, which must see every key a new code would be looked up under)
 * decide the same way.
 *
 * The shapes are UUID, a pattern with a correct check symbol, or chosen
 * codes, which any text of at least one character has.  A plain batch
 * stores a code under its plain key (the UUID, or the digest of any other
 * text); a hashed batch under the HMAC of its key.  Shapes of the
 * same store give the same key, which is listed once.  When the text has
 * the shape of a hashed batch whose key is not configured, that key's id is
 * copied to missing_key (which holds CODES_KEY_ID_LEN + 1 bytes); else it
 * is set to "".
 */
int
codes_canonical_keys(const char *canon, int len, const CodesShape *shapes,
					 int nshapes, pg_uuid_t *keys, char *missing_key)
{
	bool		is_uuid = codes_canonical_is_uuid(canon, len);
	int			n = 0;
	int			i;

	missing_key[0] = '\0';
	for (i = 0; i < nshapes; i++)
	{
		const CodesShape *shape = &shapes[i];
		pg_uuid_t	key;

		if (shape->chosen ? len == 0 :
			(shape->is_uuid != is_uuid ||
			 (!is_uuid && !codes_pattern_matches(&shape->pat, canon, len))))
			continue;

		if (shape->key_id[0] != '\0')
		{
			const CodesKey *server_key = codes_find_key(shape->key_id);

			if (server_key == NULL)
			{
				strlcpy(missing_key, shape->key_id, CODES_KEY_ID_LEN + 1);
				continue;
			}
			codes_text_key(server_key, canon, len, &key);
		}
		else
			codes_text_key(NULL, canon, len, &key);
		add_key(keys, &n, &key);
	}
	return n;
}

/*
 * The key that text in canonical form is stored under: hashed under a
 * server key, its HMAC; plain (server_key NULL), the UUID if it reads as
 * one, else the digest of the text.  A look-up and code_add (import.c,
 * which stores given text under the key a look-up of it computes) decide
 * here the same way.
 */
void
codes_text_key(const CodesKey *server_key, const char *canon, int len,
			   pg_uuid_t *key)
{
	if (server_key != NULL)
		codes_hmac_key(server_key, canon, len, key);
	else if (codes_canonical_is_uuid(canon, len))
		codes_uuid_from_canonical(canon, key);
	else
		codes_pattern_key(canon, len, key);
}

/*
 * Tell the server log, once per backend and key, that codes of batches
 * hashed under this key (its id) cannot be looked up, as the key is not
 * configured: they are answered as not found.  Not the client: the
 * caller may be an application, and a guesser must learn nothing.
 */
void
codes_note_missing_key(const char *key_id)
{
	static char noted[8][CODES_KEY_ID_LEN + 1];
	static int	nnoted = 0;
	int			i;

	for (i = 0; i < nnoted; i++)
		if (strcmp(noted[i], key_id) == 0)
			return;
	if (nnoted < (int) lengthof(noted))
		strlcpy(noted[nnoted++], key_id, CODES_KEY_ID_LEN + 1);
	ereport(LOG,
			(errmsg("key %s of hashed codes is not configured", key_id),
			 errdetail("Codes of batches hashed under that key are answered as not found."),
			 errhint("Name the key's file in codes.key_file or codes.old_key_files, or retire or delete those batches."),
			 errhidestmt(true)));
}

/*
 * Read a code as a person may have typed it into the keys it may be stored
 * under, and return how many there are (palloc'd in *keys).
 *
 * Its canonical form is matched against the shapes of codes that batches
 * have (batch.c), by codes_canonical_keys, which sets missing_key.  Text of
 * no batch's shape has no keys at all, and is answered as not found without
 * a look-up (while some batch has chosen codes, only the empty text).
 */
int
codes_lookup_keys(text *code, pg_uuid_t **keys, char *missing_key)
{
	char		canon[CODES_MAX_PATTERN + 1];
	int			len = codes_canonical_form(code, canon);
	int			nshapes;
	const CodesShape *shapes;

	missing_key[0] = '\0';
	*keys = NULL;
	if (len < 0)
		return 0;
	shapes = codes_known_shapes(&nshapes);
	*keys = palloc(sizeof(pg_uuid_t) * Max(nshapes, 1));
	return codes_canonical_keys(canon, len, shapes, nshapes, *keys,
								missing_key);
}


/*
 * May a new code of shape own also be looked up under a key other than its
 * own: has one of the given shapes text in common with own, stored another
 * way (plain rather than hashed, or under another key)?  Shapes stored the
 * same way give a text the same key, which the unique index keeps unique.
 * When such a shape is hashed under a key that is not configured, its id
 * is copied to missing_key (CODES_KEY_ID_LEN + 1 bytes); else it is "".
 */
bool
codes_other_stores(const CodesShape *own, const CodesShape *shapes,
				   int nshapes, char *missing_key)
{
	bool		found = false;
	int			i;

	missing_key[0] = '\0';
	for (i = 0; i < nshapes; i++)
	{
		const CodesShape *shape = &shapes[i];

		if (strcmp(shape->key_id, own->key_id) == 0 ||
			!codes_shapes_overlap(own, shape))
			continue;
		found = true;
		if (shape->key_id[0] != '\0' && codes_find_key(shape->key_id) == NULL)
			strlcpy(missing_key, shape->key_id, CODES_KEY_ID_LEN + 1);
	}
	return found;
}
