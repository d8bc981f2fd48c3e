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
 * never put into a message: messages name a key by its id, or its file by
 * the setting that names it.  The file's path is for superusers only, as
 * the settings are (file_detail): it goes into the server log, and to the
 * client only when a superuser made the call.
 *
 * Calls no other file of the extension (its header takes the length of a
 * key id from text.h); called by lookup.c, gen_chunk.c, code_gen.c, and
 * codes.c for its settings (_PG_init).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/cryptohash.h"
#include "common/sha2.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/varlena.h"

#include "keys.h"

/* Key files must hold at least this many bytes (256 bits), at most MAX. */
#define KEY_MIN_BYTES	32
#define KEY_MAX_BYTES	1024

/* The block size of SHA-256, the length of HMAC's padded key. */
#define HMAC_BLOCK		64

/*
 * The HMAC of a key, half done (RFC 2104): SHA-256 states that have taken
 * in the key XORed with the inner and the outer pad.  Made once per key
 * (make_pads), so that a code's HMAC costs the hashing of the code and of
 * the inner digest only.  The states live in OpenSSL's memory: they are
 * freed, and wiped, by free_pads.
 */
struct CodesHmacPads
{
	EVP_MD_CTX *inner;
	EVP_MD_CTX *outer;
};

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
 * The id of a key: the first bytes, in hex, of a SHA-256 digest of it.
 */
static void
key_id(const uint8 *data, int len, char *id)
{
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	pg_cryptohash_ctx *ctx;
	int			i;

	ctx = pg_cryptohash_create(PG_SHA256);
	if (ctx == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	if (pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) "codes key id ", 13) < 0 ||
		pg_cryptohash_update(ctx, data, len) < 0 ||
		pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
	{
		const char *reason = pg_cryptohash_error(ctx);

		pg_cryptohash_free(ctx);
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_INVOCATION_EXCEPTION),
				 errmsg("could not compute SHA-256 digest: %s", reason)));
	}
	pg_cryptohash_free(ctx);
	for (i = 0; i < CODES_KEY_ID_LEN / 2; i++)
		snprintf(id + 2 * i, 3, "%02x", digest[i]);
}

/*
 * Whether the key file at path lies inside the data directory.  The
 * directory part of the path is resolved (a key file may well lie in a
 * directory reached through a link); the file itself is never followed, as
 * read_key opens it with O_NOFOLLOW.  False with *err set to errno when the
 * directory cannot be resolved.
 */
static bool
key_file_in_data_dir(const char *path, int *err)
{
	char		dir[MAXPGPATH];
	char		resolved[PATH_MAX];
	char		datadir[PATH_MAX];
	char		full[MAXPGPATH + PATH_MAX];
	const char *name = last_dir_separator(path);

	strlcpy(dir, path, sizeof(dir));
	get_parent_directory(dir);
	if (dir[0] == '\0')
		strlcpy(dir, name ? "/" : ".", sizeof(dir));
	name = name ? name + 1 : path;

	*err = 0;
	if (realpath(dir, resolved) == NULL)
	{
		*err = errno;
		return false;
	}
	snprintf(full, sizeof(full), "%s/%s", resolved, name);
	if (realpath(DataDir, datadir) == NULL)
		strlcpy(datadir, DataDir, sizeof(datadir));
	return path_is_prefix_of_path(datadir, full);
}

/*
 * The error for a failed OpenSSL digest call.
 */
static void
digest_error(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_EXTERNAL_ROUTINE_INVOCATION_EXCEPTION),
			 errmsg("could not compute HMAC")));
}

/*
 * Free a key's pads, which OpenSSL wipes as it frees them.
 */
static void
free_pads(CodesHmacPads *pads)
{
	EVP_MD_CTX_free(pads->inner);
	EVP_MD_CTX_free(pads->outer);
	pads->inner = pads->outer = NULL;
}

/*
 * The pads of the key data[0..len), allocated in cxt: the states of
 * SHA-256 after the padded key (a key longer than a block is first
 * hashed, as RFC 2104 says).  On failure nothing is left behind.
 */
static CodesHmacPads *
make_pads(const uint8 *data, unsigned int len, MemoryContext cxt)
{
	CodesHmacPads *pads = MemoryContextAllocZero(cxt, sizeof(CodesHmacPads));
	uint8		block[HMAC_BLOCK];
	uint8		ipad[HMAC_BLOCK];
	unsigned int klen = len;
	bool		ok;
	int			i;

	memset(block, 0, sizeof(block));
	if (klen > HMAC_BLOCK)
		ok = EVP_Digest(data, klen, block, &klen, EVP_sha256(), NULL);
	else
	{
		memcpy(block, data, klen);
		ok = true;
	}
	for (i = 0; i < HMAC_BLOCK; i++)
	{
		ipad[i] = block[i] ^ 0x36;
		block[i] ^= 0x5c;
	}

	pads->inner = EVP_MD_CTX_new();
	pads->outer = EVP_MD_CTX_new();
	ok = ok && pads->inner && pads->outer &&
		EVP_DigestInit_ex(pads->inner, EVP_sha256(), NULL) &&
		EVP_DigestUpdate(pads->inner, ipad, HMAC_BLOCK) &&
		EVP_DigestInit_ex(pads->outer, EVP_sha256(), NULL) &&
		EVP_DigestUpdate(pads->outer, block, HMAC_BLOCK);
	explicit_bzero(block, sizeof(block));
	explicit_bzero(ipad, sizeof(ipad));
	if (!ok)
	{
		free_pads(pads);
		pfree(pads);
		digest_error();
	}
	return pads;
}

/*
 * The detail of a message about a key file: its path, which only
 * superusers may see (codes.key_file and codes.old_key_files are
 * superuser-only settings).  For anyone else, a call of code_query under
 * the application's role, say, it goes to the server log alone.  The
 * caller is the role outside the extension's SECURITY DEFINER functions.
 */
static int
file_detail(const char *path)
{
	if (superuser_arg(GetOuterUserId()))
		return errdetail("The file is \"%s\".", path);
	return errdetail_log("The file is \"%s\".", path);
}

/*
 * Read one key file into key, checking where it lies and who may read it.
 * A file that fails a check is reported at elevel, naming the setting
 * that names the file; below ERROR, the key is left out (false), so that
 * one bad file does not stop every look-up.
 *
 * The file is opened once, without following a symbolic link as its last
 * component, and its checks are made on the open file, so that what is
 * checked is what is read.  key->data is allocated, in TopMemoryContext,
 * only once the key is good: a failure leaves nothing behind.
 */
static bool
read_key(const char *setting, const char *path, CodesKey *key, int elevel)
{
	struct stat st;
	uint8		buf[KEY_MAX_BYTES + 1];
	CodesHmacPads *pads;
	size_t		len = 0;
	int			fd;
	int			err;

	if (key_file_in_data_dir(path, &err))
	{
		ereport(elevel,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key file of %s lies inside the data directory", setting),
				 file_detail(path),
				 errhint("Keep key files outside the data directory, so that base backups do not hold them.")));
		return false;
	}
	if (err != 0)
	{
		errno = err;
		ereport(elevel,
				(errcode_for_file_access(),
				 errmsg("could not find key file of %s: %m", setting),
				 file_detail(path)));
		return false;
	}

	/* O_NONBLOCK: a FIFO put in a key file's place must not hang us */
	fd = OpenTransientFile(path,
						   O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | PG_BINARY);
	if (fd < 0)
	{
		if (errno == ELOOP)
			ereport(elevel,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("key file of %s must not be a symbolic link", setting),
					 file_detail(path),
					 errhint("Name the file the link points to.")));
		else
			ereport(elevel,
					(errcode_for_file_access(),
					 errmsg("could not find key file of %s: %m", setting),
					 file_detail(path)));
		return false;
	}

	if (fstat(fd, &st) != 0)
	{
		err = errno;
		CloseTransientFile(fd);
		errno = err;
		ereport(elevel,
				(errcode_for_file_access(),
				 errmsg("could not stat key file of %s: %m", setting),
				 file_detail(path)));
		return false;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
		(st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
	{
		CloseTransientFile(fd);
		ereport(elevel,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key file of %s must be a file owned and readable by the server's user alone",
						setting),
				 file_detail(path),
				 errhint("Give it to the server's user with chown, and make it mode 0600.")));
		return false;
	}

	/* every byte is key: a key of random bytes may end in a newline */
	while (len < sizeof(buf))
	{
		ssize_t		got = read(fd, buf + len, sizeof(buf) - len);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
		{
			err = errno;
			explicit_bzero(buf, sizeof(buf));
			CloseTransientFile(fd);
			errno = err;
			ereport(elevel,
					(errcode_for_file_access(),
					 errmsg("could not read key file of %s: %m", setting),
					 file_detail(path)));
			return false;
		}
		if (got == 0)
			break;
		len += got;
	}
	CloseTransientFile(fd);
	if (len < KEY_MIN_BYTES || len > KEY_MAX_BYTES)
	{
		explicit_bzero(buf, sizeof(buf));
		ereport(elevel,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key file of %s must hold %d to %d bytes", setting,
						KEY_MIN_BYTES, KEY_MAX_BYTES),
				 file_detail(path),
				 errhint("Make one with head -c 32 /dev/urandom.")));
		return false;
	}

	/* the id: a digest of the key, which tells nothing of the key */
	key_id(buf, (int) len, key->id);

	/* the pads first: a failure must leave no key without its pads */
	pads = make_pads(buf, (unsigned int) len, TopMemoryContext);
	key->data = MemoryContextAlloc(TopMemoryContext, len);
	memcpy(key->data, buf, len);
	explicit_bzero(buf, sizeof(buf));
	key->pads = pads;
	key->len = (int) len;
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
	MemoryContext tmpcxt;
	MemoryContext oldcxt;
	char	   *files;
	List	   *old = NIL;
	ListCell   *lc;
	int			i;

	if (keys_valid)
		return;

	/* forget the keys read before, wiping them */
	for (i = 0; i < num_keys; i++)
	{
		if (keys[i].data)
		{
			explicit_bzero(keys[i].data, keys[i].len);
			pfree(keys[i].data);
		}
		if (keys[i].pads)
		{
			free_pads(keys[i].pads);
			pfree(keys[i].pads);
		}
	}
	if (keys)
		pfree(keys);
	keys = NULL;
	num_keys = 0;

	/* the list of file names is needed only here */
	tmpcxt = AllocSetContextCreate(CurrentMemoryContext, "codes key files",
								   ALLOCSET_SMALL_SIZES);
	oldcxt = MemoryContextSwitchTo(tmpcxt);
	files = pstrdup(old_key_files);
	if (!SplitDirectoriesString(files, ',', &old))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid list syntax in codes.old_key_files")));
	MemoryContextSwitchTo(oldcxt);

	keys = MemoryContextAllocZero(TopMemoryContext,
								  sizeof(CodesKey) * (1 + list_length(old)));

	/*
	 * keys[0] is the current key, or empty when there is none.  num_keys
	 * counts every entry that may hold key data, so that an error part way
	 * leaves nothing that the next load does not wipe and free.
	 */
	num_keys = 1;
	if (key_file[0] != '\0')
		(void) read_key("codes.key_file", key_file, &keys[0], current_elevel);
	foreach(lc, old)
	{
		if (read_key("codes.old_key_files", (char *) lfirst(lc),
					 &keys[num_keys], WARNING))
			num_keys++;
	}
	MemoryContextDelete(tmpcxt);

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
		read_key("codes.key_file", key_file, &keys[0], ERROR);	/* warned before */
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
 * Memory context reset callback of a key's copy: wipe it and free its pads.
 */
static void
forget_copy(void *arg)
{
	CodesKey   *copy = (CodesKey *) arg;

	explicit_bzero(copy->data, copy->len);
	if (copy->pads)
		free_pads(copy->pads);
}

/*
 * A copy of a server key, in the current memory context, for the length of
 * a call that must not see the key go (keys.c forgets its keys when the
 * key settings change, which a user's trigger could do while a batch is
 * being made).  The copy is wiped when that context is reset or deleted,
 * on error too.
 */
const CodesKey *
codes_copy_key(const CodesKey *key)
{
	CodesKey   *copy = palloc(sizeof(CodesKey));
	MemoryContextCallback *cb = palloc(sizeof(MemoryContextCallback));

	*copy = *key;
	copy->data = palloc(key->len);
	memcpy(copy->data, key->data, key->len);
	copy->pads = NULL;
	cb->func = forget_copy;
	cb->arg = copy;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);
	copy->pads = make_pads(copy->data, copy->len, CurrentMemoryContext);
	return copy;
}

/*
 * The key of a hashed code: the first 16 bytes of HMAC-SHA-256 under the
 * server key of its canonical form, from the key's pads.
 */
void
codes_hmac_key(const CodesKey *key, const char *canon, int len,
			   pg_uuid_t *out)
{
	static EVP_MD_CTX *ctx = NULL;
	uint8		mac[EVP_MAX_MD_SIZE];
	unsigned int maclen;

	if (ctx == NULL && (ctx = EVP_MD_CTX_new()) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	if (!EVP_MD_CTX_copy_ex(ctx, key->pads->inner) ||
		!EVP_DigestUpdate(ctx, canon, len) ||
		!EVP_DigestFinal_ex(ctx, mac, &maclen) ||
		!EVP_MD_CTX_copy_ex(ctx, key->pads->outer) ||
		!EVP_DigestUpdate(ctx, mac, maclen) ||
		!EVP_DigestFinal_ex(ctx, mac, &maclen))
	{
		EVP_MD_CTX_reset(ctx);	/* keep no state of the key */
		digest_error();
	}
	memcpy(out->data, mac, UUID_LEN);
	explicit_bzero(mac, sizeof(mac));
}
