/* dtype: lookups in the dtype table. */
#include "config.h"

#include <string.h>

#include "dtype.h"
#include "banned.h"

struct dtype_info {
	const char *name;
	size_t size;
	unsigned per_byte;
	enum dtype_kind kind;
	const char *storage_class;
	const char *st_name;
	const char *aliases;
};

static const struct dtype_info dtype_info[DT__COUNT] = {
	[DT_INVALID] = { "invalid", 0, 1, DK_UINT, NULL, NULL, "" },
#define DTYPE_INFO(e, name, size, per_byte, kind, sc, st, aliases) \
	[DT_##e] = { name, size, per_byte, kind, sc, st, aliases },
	DTYPE_TABLE(DTYPE_INFO)
#undef DTYPE_INFO
};

static const struct dtype_info *
info(enum dtype dt)
{
	if ((unsigned)dt >= DT__COUNT)
		dt = DT_INVALID;
	return &dtype_info[dt];
}

const char *
dtype_name(enum dtype dt)
{
	return info(dt)->name;
}

size_t
dtype_size(enum dtype dt)
{
	return info(dt)->size;
}

unsigned
dtype_per_byte(enum dtype dt)
{
	return info(dt)->per_byte;
}

enum dtype_kind
dtype_kind(enum dtype dt)
{
	return info(dt)->kind;
}

const char *
dtype_storage_class(enum dtype dt)
{
	return info(dt)->storage_class;
}

enum dtype
dtype_from_storage_class(const char *name)
{
	int i;

	for (i = 1; i < DT__COUNT; i++)
		if (dtype_info[i].storage_class &&
		    !strcmp(dtype_info[i].storage_class, name))
			return (enum dtype)i;
	return DT_INVALID;
}

/* Is the word s[0..len) one of the space-separated words of list? */
static int
in_word_list(const char *list, const char *s, size_t len)
{
	const char *p = list;

	while (*p) {
		size_t n = strcspn(p, " ");

		if (n == len && !memcmp(p, s, len))
			return 1;
		p += n;
		p += strspn(p, " ");
	}
	return 0;
}

enum dtype
dtype_from_name(const char *s, size_t len)
{
	int i;

	if (len > 6 && !memcmp(s, "torch.", 6)) {
		s += 6;
		len -= 6;
	}
	for (i = 1; i < DT__COUNT; i++) {
		const struct dtype_info *d = &dtype_info[i];

		if ((strlen(d->name) == len && !memcmp(d->name, s, len)) ||
		    (d->st_name && strlen(d->st_name) == len &&
		     !memcmp(d->st_name, s, len)) ||
		    in_word_list(d->aliases, s, len))
			return (enum dtype)i;
	}
	return DT_INVALID;
}
