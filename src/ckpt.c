/* ckpt: open a checkpoint, find its state dict, walk and list it. */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "rd.h"
#include "torchpkl.h"
#include "unpickle.h"
#include "grow.h"
#include "banned.h"

/* The pickle of a checkpoint is held in memory while it is parsed. */
#define CKPT_MAX_PICKLE ((size_t)4 << 30)

struct ckpt {
	enum ckpt_format format;
	struct bsrc *src;
	struct tzip *zip;
	struct pyarena *arena;
	struct pyval *top;
	const struct tzip_entry **records;	/* by storage index */
	size_t nstorages;
	struct made {		/* storages made by edits, after those */
		uint8_t *bytes;
		size_t len;
	} *made;
	size_t nmade, made_alloc;
	bool changed;		/* the graph differs from the pickle read */
};

const char *
ckpt_format_name(enum ckpt_format f)
{
	switch (f) {
	case CKPT_TORCH_ZIP:
		return "torch-zip";
	case CKPT_TORCH_LEGACY:
		return "torch-legacy";
	case CKPT_SAFETENSORS:
		return "safetensors";
	}
	return "?";
}

/* torch's legacy format starts with the pickled magic number. */
static const uint8_t legacy_magic[] = {
	0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8,
	0x50, 0x19
};

/* Tell the zip format from the others, and name what we do not read. */
static int
sniff(struct bsrc *src, struct ckerr *err)
{
	uint8_t h[264];
	uint64_t size = bsrc_size(src);
	size_t n = size < sizeof(h) ? (size_t)size : sizeof(h);

	if (size == 0)
		return ckerr_set(err, CKERR_FORMAT, "empty file");
	if (bsrc_pread(src, h, n, 0, err) < 0)
		return -1;
	if (n >= 4 && !memcmp(h, "PK\3\4", 4))
		return 0;
	if (n >= 4 && !memcmp(h, "PK\5\6", 4))
		return ckerr_set(err, CKERR_FORMAT, "an empty zip archive, not "
				 "a torch checkpoint");
	if (n >= 8 && !memcmp(h, "PYTORCH1", 8))
		return ckerr_set(err, CKERR_UNSUPPORTED, "the pre-1.0 torch "
				 "preview format is not supported");
	if (n >= sizeof(legacy_magic) &&
	    !memcmp(h, legacy_magic, sizeof(legacy_magic)))
		return ckerr_set(err, CKERR_UNSUPPORTED, "legacy torch format "
				 "(torch.save with _use_new_zipfile_serialization="
				 "False) is not supported yet; re-save it with "
				 "torch >= 1.6 defaults");
	if (n >= 262 && !memcmp(h + 257, "ustar", 5))
		return ckerr_set(err, CKERR_UNSUPPORTED, "the tar-based torch "
				 "format (torch < 0.4) is not supported");
	if (n >= 9 && h[8] == '{' && rd_le(h, 8) <= size - 8)
		return ckerr_set(err, CKERR_UNSUPPORTED, "safetensors files are "
				 "not supported yet");
	if (n >= 2 && h[0] == 0x80 && h[1] <= 5)
		return ckerr_set(err, CKERR_FORMAT, "a bare pickle, not a torch "
				 "checkpoint");
	return ckerr_set(err, CKERR_FORMAT, "not a torch checkpoint "
			 "(unrecognised format)");
}

/* Read a small text record such as 'version' or 'byteorder'. */
static int
read_small(struct ckpt *ck, const struct tzip_entry *e, char *out,
	   size_t outlen, struct ckerr *err)
{
	struct buf b = BUF_INIT;
	size_t len;

	if (tzip_read(ck->zip, e, &b, outlen - 1, TZIP_VIA_ANY, err) < 0) {
		buf_release(&b);
		return -1;
	}
	len = b.len;
	memcpy(out, b.data ? b.data : "", len);
	out[len] = '\0';
	buf_release(&b);
	while (len && (out[len - 1] == '\n' || out[len - 1] == '\r' ||
		       out[len - 1] == ' '))
		out[--len] = '\0';
	return 0;
}

static int
check_records(struct ckpt *ck, struct ckerr *err)
{
	const struct tzip_entry *e;
	char text[32], *end;
	unsigned long long v;

	e = tzip_find(ck->zip, ".data/version");
	if (!e)
		e = tzip_find(ck->zip, "version");
	if (!e)
		return ckerr_set(err, CKERR_FORMAT, "no 'version' record: not a "
				 "torch.save checkpoint");
	if (read_small(ck, e, text, sizeof(text), err) < 0)
		return -1;
	v = strtoull(text, &end, 10);
	if (end == text || *end || v == 0)
		return ckerr_set(err, CKERR_FORMAT, "'%s' record holds '%s', "
				 "not a format version", e->rel, text);
	e = tzip_find(ck->zip, "byteorder");
	if (e) {
		if (read_small(ck, e, text, sizeof(text), err) < 0)
			return -1;
		if (!strcmp(text, "big"))
			return ckerr_set(err, CKERR_UNSUPPORTED, "big-endian "
					 "checkpoints are not supported");
		if (strcmp(text, "little"))
			return ckerr_set(err, CKERR_FORMAT, "'byteorder' record "
					 "holds '%s'", text);
	}
	return 0;
}

static int
load_zip(struct ckpt *ck, struct ckerr *err)
{
	const struct tzip_entry *pkl;
	struct torchpkl tp;
	struct unpickle_hooks hooks;
	struct buf b = BUF_INIT;
	size_t i;

	ck->zip = tzip_open(ck->src, err);
	if (!ck->zip)
		return -1;
	pkl = tzip_find(ck->zip, "data.pkl");
	if (!pkl) {
		if (tzip_find(ck->zip, "constants.pkl"))
			return ckerr_set(err, CKERR_UNSUPPORTED, "a TorchScript "
					 "archive (torch.jit.save), not a "
					 "torch.save checkpoint");
		return ckerr_set(err, CKERR_FORMAT, "no 'data.pkl' record: not "
				 "a torch.save checkpoint");
	}
	if (check_records(ck, err) < 0)
		return -1;
	if (tzip_read(ck->zip, pkl, &b, CKPT_MAX_PICKLE, TZIP_VIA_ANY, err) < 0) {
		buf_release(&b);
		return -1;
	}
	if (torchpkl_init(&tp, ck->arena, 5, err) < 0) {
		buf_release(&b);
		return -1;
	}
	hooks = torchpkl_hooks(&tp);
	ck->top = unpickle(ck->arena, (const uint8_t *)(b.data ? b.data : ""),
			   b.len, &hooks, NULL, err);
	buf_release(&b);
	if (!ck->top) {
		torchpkl_release(&tp);
		return ckerr_prefix(err, "'%s': ", pkl->rel);
	}
	ck->nstorages = tp.nstorages;
	ck->records = calloc(tp.nstorages ? tp.nstorages : 1,
			     sizeof(*ck->records));
	if (!ck->records) {
		torchpkl_release(&tp);
		return ckerr_nomem(err);
	}
	for (i = 0; i < tp.nstorages; i++) {
		const struct pv_storage *s = tp.storages[i]->u.storage;
		struct buf name = BUF_INIT;
		const struct tzip_entry *e;

		if (buf_addf(&name, "data/%s", s->key) < 0) {
			torchpkl_release(&tp);
			return ckerr_nomem(err);
		}
		e = tzip_find(ck->zip, name.data);
		if (!e)
			ckerr_set(err, CKERR_FORMAT, "storage '%s' has no record "
				  "'%s'", s->key, name.data);
		else if (e->usize != s->nbytes)
			ckerr_set(err, CKERR_FORMAT, "cannot read '%s': record "
				  "is %llu bytes, storage needs %llu", name.data,
				  (unsigned long long)e->usize,
				  (unsigned long long)s->nbytes);
		buf_release(&name);
		if (ckerr_isset(err)) {
			torchpkl_release(&tp);
			return -1;
		}
		ck->records[i] = e;
	}
	torchpkl_release(&tp);
	ck->format = CKPT_TORCH_ZIP;
	return 0;
}

static struct ckpt *
open_source(struct bsrc *src, struct ckerr *err)
{
	struct ckpt *ck = calloc(1, sizeof(*ck));

	if (!ck) {
		bsrc_free(src);
		ckerr_nomem(err);
		return NULL;
	}
	ck->src = src;
	ck->arena = pyarena_new(err);
	if (!ck->arena || sniff(src, err) < 0 || load_zip(ck, err) < 0) {
		ckpt_free(ck);
		return NULL;
	}
	return ck;
}

struct ckpt *
ckpt_open(const char *path, struct ckerr *err)
{
	struct bsrc *src = bsrc_open_file(path, err);

	return src ? open_source(src, err) : NULL;
}

struct ckpt *
ckpt_open_memory(const void *data, size_t len, struct ckerr *err)
{
	struct bsrc *src = bsrc_from_memory(data, len, err);

	return src ? open_source(src, err) : NULL;
}

void
ckpt_free(struct ckpt *ck)
{
	size_t i;

	if (!ck)
		return;
	tzip_free(ck->zip);
	pyarena_free(ck->arena);
	bsrc_free(ck->src);
	free(ck->records);
	for (i = 0; i < ck->nmade; i++)
		free(ck->made[i].bytes);
	free(ck->made);
	free(ck);
}

enum ckpt_format
ckpt_format(const struct ckpt *ck)
{
	return ck->format;
}

struct pyval *
ckpt_top(const struct ckpt *ck)
{
	return ck->top;
}

struct pyarena *
ckpt_arena(const struct ckpt *ck)
{
	return ck->arena;
}

struct tzip *
ckpt_zip(const struct ckpt *ck)
{
	return ck->zip;
}

struct bsrc *
ckpt_bsrc(const struct ckpt *ck)
{
	return ck->src;
}

size_t
ckpt_storage_count(const struct ckpt *ck)
{
	return ck->nstorages + ck->nmade;
}

struct pyval *
ckpt_new_storage(struct ckpt *ck, enum dtype dt, bool untyped,
		 const char *location, uint8_t *bytes, size_t nbytes,
		 struct ckerr *err)
{
	const char *cls = untyped ? NULL : dtype_storage_class(dt);
	struct pyval *node = NULL, *type;
	struct pv_storage *s;

	if (ck->nmade == ck->made_alloc) {
		struct made *p = grow_array(ck->made, &ck->made_alloc,
					    ck->nmade + 1, sizeof(*p), 8);

		if (!p)
			goto nomem;
		ck->made = p;
	}
	type = cls ? pyval_global(ck->arena, "torch", 5, cls, strlen(cls))
		   : pyval_global(ck->arena, "torch", 5, "UntypedStorage", 14);
	node = type ? pyval_storage(ck->arena) : NULL;
	if (!node)
		goto nomem;
	s = node->u.storage;
	s->key = "new";
	s->location = pyarena_strdup(ck->arena, location, strlen(location));
	if (!s->location)
		goto nomem;
	s->type = type;
	s->untyped = !cls;
	s->dtype = cls ? dt : DT_UINT8;
	s->nbytes = nbytes;
	s->numel = nbytes / dtype_size(s->dtype);
	s->index = ck->nstorages + ck->nmade;
	ck->made[ck->nmade].bytes = bytes;
	ck->made[ck->nmade++].len = nbytes;
	return node;
nomem:
	free(bytes);
	ckerr_nomem(err);
	return NULL;
}

const struct tzip_entry *
ckpt_storage_entry(const struct ckpt *ck, const struct pyval *storage)
{
	size_t i = storage->u.storage->index;

	return i < ck->nstorages ? ck->records[i] : NULL;
}

bool
ckpt_changed(const struct ckpt *ck)
{
	return ck->changed;
}

void
ckpt_mark_changed(struct ckpt *ck)
{
	ck->changed = true;
}

const char *
ckpt_storage_record(const struct ckpt *ck, const struct pyval *storage)
{
	size_t i = storage->u.storage->index;

	return i < ck->nstorages ? ck->records[i]->rel : "(made by an edit)";
}

/* Shortest %g form that reads back as the same double, like repr(). */
static int
add_double(struct buf *out, double f)
{
	char tmp[64];
	int prec;

	if (isnan(f))
		return buf_addstr(out, "nan");
	if (isinf(f))
		return buf_addstr(out, f < 0 ? "-inf" : "inf");
	for (prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, f);
		if (strtod(tmp, NULL) == f)
			break;
	}
	if (!strpbrk(tmp, ".en"))
		return buf_addf(out, "%s.0", tmp);
	return buf_addstr(out, tmp);
}

static int
key_name_depth(const struct pyval *k, struct buf *out, int depth)
{
	size_t i;

	switch (k->kind) {
	case PV_STR:
		return buf_add(out, k->u.s.data, k->u.s.len);
	case PV_INT:
		return buf_addf(out, "%" PRId64, k->u.i);
	case PV_BOOL:
		return buf_addstr(out, k->u.b ? "True" : "False");
	case PV_NONE:
		return buf_addstr(out, "None");
	case PV_FLOAT:
		return add_double(out, k->u.f);
	case PV_GLOBAL:
		return buf_addf(out, "%s.%s", k->u.global.module,
				k->u.global.name);
	case PV_TUPLE:
		if (depth > PYVAL_MAX_KEY_DEPTH)
			return buf_addstr(out, "(...)");
		if (buf_addch(out, '(') < 0)
			return -1;
		for (i = 0; i < k->u.seq.len; i++)
			if ((i && buf_addstr(out, ", ") < 0) ||
			    key_name_depth(k->u.seq.items[i], out, depth + 1) < 0)
				return -1;
		return buf_addstr(out, k->u.seq.len == 1 ? ",)" : ")");
	default:
		return buf_addf(out, "<%s>", pyval_kind_name(k->kind));
	}
}

int
ckpt_key_name(const struct pyval *key, struct buf *out)
{
	return key_name_depth(key, out, 0);
}

/*
 * Iterates over the named children of a container: dict items, list and
 * tuple elements, and an object's attributes (its BUILD state), items and
 * list items.  Tensors, Parameters and scalars have no children.
 */
struct child_iter {
	const struct pyval *v;
	int phase;
	size_t i;
	struct buf name;
	const struct pyval *holder;	/* the dict or list the child is in */
	size_t index;			/* its position there */
};

static void
child_iter_init(struct child_iter *it, const struct pyval *v)
{
	it->v = v;
	it->phase = 0;
	it->i = 0;
	buf_init(&it->name, 0);
}

static void
child_iter_release(struct child_iter *it)
{
	buf_release(&it->name);
}

/* The dict, if any, that phase p of an object's children walks. */
static const struct pyval *
object_part(const struct pv_object *o, int p, bool *indexed)
{
	const struct pyval *st = o->state;

	*indexed = false;
	switch (p) {
	case 0:
		if (st && st->kind == PV_DICT)
			return st;
		if (st && st->kind == PV_TUPLE && st->u.seq.len == 2 &&
		    st->u.seq.items[0]->kind == PV_DICT)
			return st->u.seq.items[0];
		return NULL;
	case 1:
		if (st && st->kind == PV_TUPLE && st->u.seq.len == 2 &&
		    st->u.seq.items[1]->kind == PV_DICT)
			return st->u.seq.items[1];
		return NULL;
	case 2:
		return o->items;
	case 3:
		*indexed = true;
		return o->listitems;
	default:
		return NULL;
	}
}

/* 1: *child and it->name set; 0: no more; -1: out of memory. */
static int
child_next(struct child_iter *it, struct pyval **child)
{
	const struct pyval *v = it->v, *part;
	bool indexed;

	buf_reset(&it->name);
	switch (v->kind) {
	case PV_DICT:
		if (it->i >= v->u.dict->len)
			return 0;
		it->holder = v;
		it->index = it->i;
		*child = v->u.dict->items[it->i].value;
		return ckpt_key_name(v->u.dict->items[it->i++].key,
				     &it->name) < 0 ? -1 : 1;
	case PV_LIST:
	case PV_TUPLE:
		if (it->i >= v->u.seq.len)
			return 0;
		it->holder = v;
		it->index = it->i;
		*child = v->u.seq.items[it->i];
		return buf_addf(&it->name, "%zu", it->i++) < 0 ? -1 : 1;
	case PV_OBJECT:
		if (torchpkl_tensor_node(v))
			return 0;
		for (; it->phase < 4; it->phase++, it->i = 0) {
			part = object_part(v->u.obj, it->phase, &indexed);
			if (!part)
				continue;
			it->holder = part;
			it->index = it->i;
			if (indexed && it->i < part->u.seq.len) {
				*child = part->u.seq.items[it->i];
				return buf_addf(&it->name, "%zu", it->i++) < 0 ?
				       -1 : 1;
			}
			if (!indexed && it->i < part->u.dict->len) {
				*child = part->u.dict->items[it->i].value;
				return ckpt_key_name(part->u.dict->items[it->i++].key,
						     &it->name) < 0 ? -1 : 1;
			}
		}
		return 0;
	default:
		return 0;
	}
}

static bool
is_container(const struct pyval *v)
{
	return v->kind == PV_DICT || v->kind == PV_LIST ||
	       v->kind == PV_TUPLE ||
	       (v->kind == PV_OBJECT && !torchpkl_tensor_node(v));
}

static bool
ends_with(const struct pyval *s, const char *suffix)
{
	size_t n = strlen(suffix);

	return s->u.s.len >= n &&
	       !memcmp(s->u.s.data + s->u.s.len - n, suffix, n);
}

bool
ckpt_is_state_dict(const struct pyval *v)
{
	size_t i;

	if (!v || v->kind != PV_DICT || v->u.dict->len == 0)
		return false;
	for (i = 0; i < v->u.dict->len; i++) {
		const struct pv_item *it = &v->u.dict->items[i];

		if (it->key->kind != PV_STR)
			return false;
		if (!torchpkl_tensor_node(it->value) &&
		    !pyval_is_str(it->key, "_extra_state") &&
		    !ends_with(it->key, "._extra_state"))
			return false;
	}
	return true;
}

static int
set_root(struct ckpt_root *out, struct pyval *node, const char *path,
	 struct ckerr *err)
{
	out->node = node;
	out->path = strdup(path);
	return out->path ? 0 : ckerr_nomem(err);
}

int
ckpt_find_root(struct ckpt *ck, const char *override, struct ckpt_root *out,
	       struct ckerr *err)
{
	static const char *const candidates[] = {
		"state_dict", "model_state_dict", "model", "module", "net",
		"ema",
	};
	struct pyval *top = ck->top, *v;
	size_t i;

	out->node = NULL;
	out->path = NULL;
	if (override) {
		v = ckpt_resolve(ck, NULL, override, err);
		if (!v)
			return ckerr_prefix(err, "--root: ");
		if (!is_container(v))
			return ckerr_set(err, CKERR_USAGE, "--root '%s' is a %s, "
					 "not a mapping", override,
					 torchpkl_tensor_node(v) ? "tensor" :
					 pyval_kind_name(v->kind));
		return set_root(out, v, override, err);
	}
	if (top->kind == PV_DICT) {
		v = pyval_dict_get_str(top, "state_dict", 10);
		if (v && v->kind == PV_DICT)
			return set_root(out, v, "state_dict", err);
	}
	if (ckpt_is_state_dict(top) || top->kind != PV_DICT)
		return set_root(out, top, "", err);
	for (i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		v = pyval_dict_get_str(top, candidates[i],
				       strlen(candidates[i]));
		if (ckpt_is_state_dict(v))
			return set_root(out, v, candidates[i], err);
	}
	return set_root(out, top, "", err);
}

void
ckpt_root_release(struct ckpt_root *r)
{
	free(r->path);
	r->path = NULL;
	r->node = NULL;
}

struct pyval *
ckpt_resolve(const struct ckpt *ck, struct pyval *from, const char *path,
	     struct ckerr *err)
{
	struct pyval *cur = from ? from : ck->top;
	const char *rest = path;
	size_t depth = 0;

	if (!*path)
		return cur;
	/* components are separated by dots; "a." ends with an empty one */
	for (;;) {
		struct child_iter it;
		struct pyval *child, *best = NULL;
		size_t best_len = 0;
		int r;

		if (++depth > CKPT_MAX_DEPTH)
			return ckerr_set(err, CKERR_LIMIT, "path '%s' is too "
					 "deep", path), NULL;
		child_iter_init(&it, cur);
		while ((r = child_next(&it, &child)) > 0) {
			size_t n = it.name.len;

			if ((!best || n > best_len) &&
			    !strncmp(rest, it.name.data ? it.name.data : "", n) &&
			    (rest[n] == '\0' || rest[n] == '.') &&
			    strlen(it.name.data ? it.name.data : "") == n) {
				best = child;
				best_len = n;
			}
		}
		child_iter_release(&it);
		if (r < 0)
			return ckerr_nomem(err), NULL;
		if (!best) {
			size_t n = strcspn(rest, ".");

			if (rest == path)
				ckerr_set(err, CKERR_NOTFOUND, "no entry '%.*s'",
					  (int)n, rest);
			else
				ckerr_set(err, CKERR_NOTFOUND, "no entry '%.*s' "
					  "in '%.*s'", (int)n, rest,
					  (int)(rest - path - 1), path);
			return NULL;
		}
		cur = best;
		rest += best_len;
		if (!*rest)
			return cur;
		rest++;		/* the dot */
	}
}

int
ckpt_children(const struct pyval *node,
	      int (*fn)(void *ctx, const struct ckpt_child *c), void *ctx,
	      struct ckerr *err)
{
	struct child_iter it;
	struct ckpt_child c;
	int r;

	child_iter_init(&it, node);
	while ((r = child_next(&it, &c.value)) > 0) {
		c.name = it.name.data ? it.name.data : "";
		c.len = it.name.len;
		c.holder = it.holder;
		c.index = it.index;
		if ((r = fn(ctx, &c)) != 0)
			break;
	}
	child_iter_release(&it);
	if (r < 0 && !ckerr_isset(err))
		ckerr_nomem(err);
	return r < 0 ? -1 : 0;
}

struct pyval *
ckpt_child(const struct pyval *node, const char *name)
{
	struct child_iter it;
	struct pyval *child, *found = NULL;

	child_iter_init(&it, node);
	while (!found && child_next(&it, &child) > 0)
		if (!strcmp(it.name.data ? it.name.data : "", name))
			found = child;
	child_iter_release(&it);
	return found;
}

static int
list_add(struct ckpt_list *l, const char *key, size_t len, struct pyval *v,
	 struct ckerr *err)
{
	struct ckpt_entry *e;

	if (l->n == l->alloc) {
		struct ckpt_entry *p = grow_array(l->v, &l->alloc, l->n + 1,
						  sizeof(*p), 64);

		if (!p)
			return ckerr_nomem(err);
		l->v = p;
	}
	e = &l->v[l->n];
	e->key = strndup(key, len);
	if (!e->key)
		return ckerr_nomem(err);
	e->value = v;
	e->tensor = torchpkl_tensor_node(v);
	l->n++;
	return 0;
}

int
ckpt_list_root(const struct ckpt *ck, const struct ckpt_root *root,
	       struct ckpt_list *out, struct ckerr *err)
{
	struct child_iter it;
	struct pyval *child;
	int r;

	(void)ck;
	child_iter_init(&it, root->node);
	while ((r = child_next(&it, &child)) > 0)
		if (torchpkl_tensor_node(child) &&
		    list_add(out, it.name.data, it.name.len, child, err) < 0)
			break;
	child_iter_release(&it);
	if (r < 0)
		return ckerr_nomem(err);
	return ckerr_isset(err) ? -1 : 0;
}

struct walk {
	uint8_t *seen;		/* by node id: container already walked */
	struct buf path;
	struct ckpt_list *out;
	struct ckerr *err;
};

static int
walk_node(struct walk *w, struct pyval *v, int depth)
{
	struct child_iter it;
	struct pyval *child;
	int r = 0;

	if (torchpkl_tensor_node(v))
		return list_add(w->out, w->path.data ? w->path.data : "",
				w->path.len, v, w->err);
	if (!is_container(v) || w->seen[v->id])
		return 0;
	w->seen[v->id] = 1;
	if (depth >= CKPT_MAX_DEPTH)
		return ckerr_set(w->err, CKERR_LIMIT, "objects nested more "
				 "than %d deep at '%s'", CKPT_MAX_DEPTH,
				 w->path.data);
	child_iter_init(&it, v);
	while ((r = child_next(&it, &child)) > 0) {
		size_t saved = w->path.len;

		if ((saved && buf_addch(&w->path, '.') < 0) ||
		    buf_add(&w->path, it.name.data, it.name.len) < 0) {
			r = -1;
			break;
		}
		if (walk_node(w, child, depth + 1) < 0) {
			child_iter_release(&it);
			return -1;
		}
		w->path.len = saved;
		w->path.data[saved] = '\0';
	}
	child_iter_release(&it);
	return r < 0 ? ckerr_nomem(w->err) : 0;
}

int
ckpt_list_all(const struct ckpt *ck, struct ckpt_list *out,
	      struct ckerr *err)
{
	struct walk w;
	int r;

	w.seen = calloc(pyarena_count(ck->arena) + 1, 1);
	if (!w.seen)
		return ckerr_nomem(err);
	buf_init(&w.path, 0);
	w.out = out;
	w.err = err;
	r = walk_node(&w, ck->top, 0);
	free(w.seen);
	buf_release(&w.path);
	return r;
}

void
ckpt_list_release(struct ckpt_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].key);
	free(l->v);
	l->v = NULL;
	l->n = l->alloc = 0;
}

int
ckpt_storage_data(struct ckpt *ck, const struct pyval *storage,
		  struct tzip_data *out, struct ckerr *err)
{
	size_t i = storage->u.storage->index;

	memset(out, 0, sizeof(*out));
	if (i >= ck->nstorages && i - ck->nstorages < ck->nmade) {
		out->data = ck->made[i - ck->nstorages].bytes;
		out->len = ck->made[i - ck->nstorages].len;
		if (!out->data)
			out->data = (const uint8_t *)"";
		return 0;
	}
	if (i >= ck->nstorages)
		return ckerr_set(err, CKERR_NOTFOUND, "storage has no record");
	if (tzip_data_get(ck->zip, ck->records[i], out, err) < 0)
		return ckerr_prefix(err, "cannot read '%s': ",
				    ck->records[i]->rel);
	return 0;
}

/* Per-channel quantization arrays owned by the caller. */
struct quant_arrays {
	double *scales;
	int64_t *zps;
};

static int
channel_values(struct ckpt *ck, const struct pyval *v, size_t n,
	       struct tval *out, struct ckerr *err)
{
	/* channel_params_fit() checked v: n values, not quantized */
	return ckpt_tensor_values(ck, torchpkl_tensor(v), out, n, err) < 0 ?
	       -1 : 0;
}

/* A per-channel scales/zero-points tensor: nch values, each stored. */
static bool
channel_params_fit(const struct pyval *v, size_t nch)
{
	const struct pv_tensor *t = torchpkl_tensor(v);

	return t && t->numel == nch && t->rebuild != PV_REBUILD_QTENSOR &&
	       nch <= t->storage->u.storage->numel;
}

static int
resolve_quant(struct ckpt *ck, const struct pv_tensor *t, struct tquant *q,
	      struct quant_arrays *qa, struct ckerr *err)
{
	const struct pyval *qp = t->qparams, *scheme;
	struct pyval *const *av;
	struct tval *tv = NULL;
	size_t nch, i;

	memset(q, 0, sizeof(*q));
	memset(qa, 0, sizeof(*qa));
	if (t->rebuild != PV_REBUILD_QTENSOR)
		return 0;
	if (!qp || qp->kind != PV_TUPLE || qp->u.seq.len < 1)
		goto bad;
	av = qp->u.seq.items;
	scheme = av[0];
	if ((pyval_is_global(scheme, "torch", "per_tensor_affine") ||
	     pyval_is_global(scheme, "torch", "per_tensor_symmetric")) &&
	    qp->u.seq.len == 3 && av[1]->kind == PV_FLOAT &&
	    av[2]->kind == PV_INT) {
		q->scheme = TQ_PER_TENSOR;
		q->scale = av[1]->u.f;
		q->zero_point = av[2]->u.i;
		return 0;
	}
	if ((pyval_is_global(scheme, "torch", "per_channel_affine") ||
	     pyval_is_global(scheme, "torch", "per_channel_symmetric") ||
	     pyval_is_global(scheme, "torch",
			     "per_channel_affine_float_qparams")) &&
	    qp->u.seq.len == 4 && av[3]->kind == PV_INT && av[3]->u.i >= 0 &&
	    av[3]->u.i < t->ndim && torchpkl_tensor(av[1])) {
		q->scheme = TQ_PER_CHANNEL;
		q->axis = (int)av[3]->u.i;
		nch = (size_t)t->shape[q->axis];
		/* one scale and zero point per channel, each really stored:
		 * bounded by the file before anything is allocated */
		if (!channel_params_fit(av[1], nch) ||
		    !channel_params_fit(av[2], nch))
			goto bad;
		tv = calloc(nch ? nch : 1, sizeof(*tv));
		qa->scales = calloc(nch ? nch : 1, sizeof(*qa->scales));
		qa->zps = calloc(nch ? nch : 1, sizeof(*qa->zps));
		if (!tv || !qa->scales || !qa->zps) {
			ckerr_nomem(err);
			goto fail;
		}
		if (channel_values(ck, av[1], nch, tv, err) < 0)
			goto fail;
		for (i = 0; i < nch; i++)
			qa->scales[i] = tv[i].kind == TV_FLOAT ? tv[i].re :
					tv[i].kind == TV_UINT ? (double)tv[i].u :
					(double)tv[i].i;
		if (channel_values(ck, av[2], nch, tv, err) < 0)
			goto fail;
		for (i = 0; i < nch; i++)
			qa->zps[i] = tv[i].kind == TV_FLOAT ? (int64_t)tv[i].re :
				     tv[i].kind == TV_UINT ? (int64_t)tv[i].u :
				     tv[i].i;
		free(tv);
		q->scales = qa->scales;
		q->zero_points = qa->zps;
		q->nch = nch;
		return 0;
	}
bad:
	ckerr_set(err, CKERR_UNSUPPORTED, "unsupported quantizer parameters");
fail:
	free(tv);
	free(qa->scales);
	free(qa->zps);
	memset(qa, 0, sizeof(*qa));
	return -1;
}

int
ckpt_tensor_stats(struct ckpt *ck, const struct pv_tensor *t,
		  struct tstats *out, struct ckerr *err)
{
	struct tzip_data d;
	struct tquant q;
	struct quant_arrays qa;
	int r;

	if (resolve_quant(ck, t, &q, &qa, err) < 0)
		return -1;
	if (ckpt_storage_data(ck, t->storage, &d, err) < 0) {
		free(qa.scales);
		free(qa.zps);
		return -1;
	}
	r = tensor_stats(t, d.data, d.len, &q, out, err);
	tzip_data_release(&d);
	free(qa.scales);
	free(qa.zps);
	return r;
}

ptrdiff_t
ckpt_tensor_values(struct ckpt *ck, const struct pv_tensor *t,
		   struct tval *out, size_t n, struct ckerr *err)
{
	struct tzip_data d;
	struct tquant q;
	struct quant_arrays qa;
	ptrdiff_t r;

	if (resolve_quant(ck, t, &q, &qa, err) < 0)
		return -1;
	if (ckpt_storage_data(ck, t->storage, &d, err) < 0) {
		free(qa.scales);
		free(qa.zps);
		return -1;
	}
	r = tensor_values(t, d.data, d.len, &q, out, n, err);
	tzip_data_release(&d);
	free(qa.scales);
	free(qa.zps);
	return r;
}
