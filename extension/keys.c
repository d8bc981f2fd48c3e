/*-------------------------------------------------------------------------
 *
 * keys.c
 *	  Codes hashed at rest: the server keys, and the HMAC of a code.
 *
 * A batch made with store => 'hmac' keeps no code in plain text: a code's
 * key is the first 16 bytes of HMAC-SHA-256, under a server key, of its
 * canonical form.  The current key is read from the file named by
 * codes.key_file; retired keys, still good for the batches made with them,
 * from the files named by codes.old_key_files.  Each batch records the id
 * of its key: the first 8 bytes, in hex, of a SHA-256 digest of the key.
 *
 * A key file must lie outside the data directory (so that it is not in
 * base backups) and be readable by the server's user alone.  Keys are read
 * when first needed after the settings change, never returned to SQL, and
 * never put into a message: messages name a key by its id or its file.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>
#include <sys/stat.h>

#include "common/cryptohash.h"
#include "common/hmac.h"
#include "common/sha2.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/varlena.h"

#include "codes.h"

/* Key files must hold at least this many bytes (256 bits), at most MAX. */
#define KEY_MIN_BYTES	32
#define KEY_MAX_BYTES	1024

/* The settings. */
static char *key_file = NULL;
static char *old_key_files = NULL;

/* The keys, as read for the settings above; keys[0] is the current one. */
static CodesKey *keys = NULL;
static int	num_keys = 0;
static bool keys_valid = false;

/*
 * GUC assign hook: the key files changed; read them again when needed.
 */
static void
keys_changed(const char *newval, void *extra)
{
	keys_valid = false;
}

/*
 * Define the settings; called from _PG_init.
 */
void
codes_init_keys(void)
{
	DefineCustomStringVariable("codes.key_file",
							   "File holding the server key under which hashed codes are stored.",
							   "Outside the data directory, readable by the server's user alone.",
							   &key_file, "", PGC_SUSET, GUC_SUPERUSER_ONLY,
							   NULL, keys_changed, NULL);
	DefineCustomStringVariable("codes.old_key_files",
							   "Comma-separated files of retired keys, still used for the batches made with them.",
							   NULL,
							   &old_key_files, "", PGC_SUSET, GUC_SUPERUSER_ONLY,
							   NULL, keys_changed, NULL);
}

/*
 * Read one key file into key, checking where it lies and who may read it.
 * A file that fails a check is reported at elevel; below ERROR, the key is
 * left out (false), so that one bad file does not stop every look-up.
 */
static bool
read_key(const char *path, CodesKey *key, int elevel)
{
	struct stat st;
	char		resolved[PATH_MAX];
	char		datadir[PATH_MAX];
	uint8		buf[KEY_MAX_BYTES + 1];
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	pg_cryptohash_ctx *ctx;
	FILE	   *file;
	size_t		len;
	int			i;

	if (realpath(path, resolved) == NULL)
	{
		ereport(elevel,
				(errcode_for_file_access(),
				 errmsg("could not find key file \"%s\": %m", path)));
		return false;
	}
	if (realpath(DataDir, datadir) == NULL)
		strlcpy(datadir, DataDir, sizeof(datadir));
	if (path_is_prefix_of_path(datadir, resolved))
	{
		ereport(elevel,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key file \"%s\" lies inside the data directory", path),
				 errhint("Keep key files outside the data directory, so that base backups do not hold them.")));
		return false;
	}
	if (stat(resolved, &st) != 0 || !S_ISREG(st.st_mode) ||
		st.st_uid != geteuid() || (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
	{
		ereport(elevel,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key file \"%s\" must be a file owned and readable by the server's user alone",
						path),
				 errhint("Give it to the server's user with chown, and make it mode 0600.")));
		return false;
	}

	file = AllocateFile(resolved, PG_BINARY_R);
	if (file == NULL)
	{
		ereport(elevel,
				(errcode_for_file_access(),
				 errmsg("could not open key file \"%s\": %m", path)));
		return false;
	}
	/* every byte is key: a key of random bytes may end in a newline */
	len = fread(buf, 1, sizeof(buf), file);
	FreeFile(file);
	if (len < KEY_MIN_BYTES || len > KEY_MAX_BYTES)
	{
		explicit_bzero(buf, sizeof(buf));
		ereport(elevel,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key file \"%s\" must hold %d to %d bytes", path,
						KEY_MIN_BYTES, KEY_MAX_BYTES),
				 errhint("Make one with head -c 32 /dev/urandom.")));
		return false;
	}

	key->len = (int) len;
	key->data = MemoryContextAlloc(TopMemoryContext, len);
	memcpy(key->data, buf, len);
	explicit_bzero(buf, sizeof(buf));

	/* the id: a digest of the key, which tells nothing of the key */
	ctx = pg_cryptohash_create(PG_SHA256);
	if (pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) "codes key id ", 13) < 0 ||
		pg_cryptohash_update(ctx, key->data, key->len) < 0 ||
		pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
		elog(ERROR, "could not compute SHA-256 digest: %s",
			 pg_cryptohash_error(ctx));
	pg_cryptohash_free(ctx);
	for (i = 0; i < CODES_KEY_ID_LEN / 2; i++)
		snprintf(key->id + 2 * i, 3, "%02x", digest[i]);
	return true;
}

/*
 * Read the keys of codes.key_file and codes.old_key_files, if the settings
 * changed since they were last read.  A file that cannot be used is left
 * out with a warning, so that its batches report their key missing; the
 * current key's file is reported at current_elevel (ERROR when a batch is
 * about to be made with it).
 */
static void
load_keys(int current_elevel)
{
	char	   *files;
	List	   *old = NIL;
	ListCell   *lc;
	int			i;

	if (keys_valid)
		return;

	for (i = 0; i < num_keys; i++)
	{
		if (keys[i].data)
		{
			explicit_bzero(keys[i].data, keys[i].len);
			pfree(keys[i].data);
		}
	}
	num_keys = 0;

	files = pstrdup(old_key_files);
	if (!SplitDirectoriesString(files, ',', &old))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid list syntax in codes.old_key_files")));
	if (keys)
		pfree(keys);
	keys = MemoryContextAllocZero(TopMemoryContext,
								  sizeof(CodesKey) * (1 + list_length(old)));

	/* keys[0] is the current key, or empty when there is none */
	num_keys = 1;
	if (key_file[0] != '\0' && !read_key(key_file, &keys[0], current_elevel))
		memset(&keys[0], 0, sizeof(CodesKey));
	foreach(lc, old)
	{
		if (read_key((char *) lfirst(lc), &keys[num_keys], WARNING))
			num_keys++;
	}

	keys_valid = true;
}

/*
 * The current key, for new hashed batches; an error when none is set.
 */
const CodesKey *
codes_current_key(void)
{
	load_keys(ERROR);
	if (key_file[0] != '\0' && keys[0].len == 0)
		read_key(key_file, &keys[0], ERROR);	/* read before, with a warning */
	if (keys[0].len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no key for hashed codes is configured"),
				 errhint("Set codes.key_file in postgresql.conf to a file of at least %d random bytes.",
						 KEY_MIN_BYTES)));
	return &keys[0];
}

/*
 * The configured key with this id, or NULL.
 */
const CodesKey *
codes_find_key(const char *id)
{
	int			i;

	load_keys(WARNING);
	for (i = 0; i < num_keys; i++)
		if (keys[i].len > 0 && strcmp(keys[i].id, id) == 0)
			return &keys[i];
	return NULL;
}

/*
 * The key of a hashed code: the first 16 bytes of HMAC-SHA-256 under the
 * server key of its canonical form.
 */
void
codes_hmac_key(const CodesKey *key, const char *canon, int len,
			   pg_uuid_t *out)
{
	pg_hmac_ctx *ctx = pg_hmac_create(PG_SHA256);
	uint8		mac[PG_SHA256_DIGEST_LENGTH];

	if (ctx == NULL ||
		pg_hmac_init(ctx, key->data, key->len) < 0 ||
		pg_hmac_update(ctx, (const uint8 *) canon, len) < 0 ||
		pg_hmac_final(ctx, mac, sizeof(mac)) < 0)
		elog(ERROR, "could not compute HMAC: %s",
			 ctx ? pg_hmac_error(ctx) : "out of memory");
	pg_hmac_free(ctx);
	memcpy(out->data, mac, UUID_LEN);
}
