/* DESIGN: torch.save (PyTorch >= 1.6) writes a zip holding <archive>/data.pkl, a pickle of the
 * state dict in which every tensor is `_rebuild_tensor_v2(storage, offset, size, stride, ...)`
 * and every storage a persistent id ('storage', torch.FloatStorage, key, location, numel) whose
 * bytes are the zip entry <archive>/data/<key>. Unpickling arbitrary data would run arbitrary
 * code, so this is a small stack machine that knows only the opcodes pickle protocols 2-4 use
 * for such a dict and an allow-list of six globals; anything else stops the load with the
 * opcode (hex) or the global's name. Every count, length, memo index and stack depth is bounded,
 * and a tensor's furthest element (offset + Σ (size-1)·stride) must lie inside its storage, so
 * strided views (a transposed weight, a slice sharing storage) are read in place. Values live in
 * one list freed at the end; strings point into the pickle bytes. */
#include "models/torch_zip.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/zip_store.h"

#define MAX_VALUES (1u << 20)  /* ~15 per tensor in a real state dict */
#define MAX_STACK (1u << 20)
#define MAX_MEMO (1u << 22)

typedef enum { PV_NONE, PV_BOOL, PV_INT, PV_STR, PV_TUPLE, PV_LIST, PV_DICT, PV_GLOBAL, PV_STORAGE, PV_TENSOR } pv_kind;
typedef enum { G_ORDERED_DICT, G_REBUILD_TENSOR, G_REBUILD_PARAM, G_STORAGE } pv_global;

typedef struct pv pv;
struct pv {
    pv_kind kind;
    int64_t i;                    /* BOOL, INT */
    const char *s;                /* STR: bytes inside the pickle (not NUL-terminated) */
    size_t len;
    pv_global g;                  /* GLOBAL */
    dg_dtype dtype;               /* GLOBAL of a storage class, STORAGE, TENSOR */
    pv **items;                   /* TUPLE, LIST, DICT (key, value, key, value, ...) */
    size_t n, cap;
    const uint8_t *data;          /* STORAGE: first byte; TENSOR: element [0,..,0] */
    uint64_t numel;               /* STORAGE, TENSOR */
    int ndim;                     /* TENSOR */
    int64_t shape[DG_MAX_DIMS], stride[DG_MAX_DIMS];
};

typedef struct {
    const char *path;
    const uint8_t *start, *p, *end;  /* data.pkl */
    const dg_zip *zip;
    const char *prefix;              /* "<archive>/" */
    pv **all;                        /* every value, for freeing */
    size_t n_all, cap_all;
    pv **stack;
    size_t sp, stack_cap;
    size_t *marks;
    size_t n_marks, marks_cap;
    pv **memo;
    size_t memo_cap, memo_len;
    dg_err *err;
} unpickler;

static bool grow(void *arrp, size_t *cap, size_t need, size_t elsize)
{
    void **arr = arrp;
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void *q = realloc(*arr, c * elsize);
    if (!q)
        return false;
    memset((char *)q + *cap * elsize, 0, (c - *cap) * elsize);
    *arr = q;
    *cap = c;
    return true;
}

static dg_code fail(unpickler *u, dg_code code, const char *what)
{
    return dg_err_set(u->err, code, "%s: data.pkl at byte %zu: %s", u->path, (size_t)(u->p - u->start),
                      what);
}

static pv *new_value(unpickler *u, pv_kind kind)
{
    if (u->n_all >= MAX_VALUES) {
        fail(u, DG_E_FORMAT, "too many pickle values");
        return NULL;
    }
    pv *v = calloc(1, sizeof *v);
    if (!v || !grow(&u->all, &u->cap_all, u->n_all + 1, sizeof *u->all)) {
        free(v);
        fail(u, DG_E_NOMEM, "out of memory");
        return NULL;
    }
    u->all[u->n_all++] = v;
    v->kind = kind;
    return v;
}

static dg_code push(unpickler *u, pv *v)
{
    if (!v)
        return u->err->code;
    if (u->sp >= MAX_STACK)
        return fail(u, DG_E_FORMAT, "pickle stack too deep");
    if (!grow(&u->stack, &u->stack_cap, u->sp + 1, sizeof *u->stack))
        return fail(u, DG_E_NOMEM, "out of memory");
    u->stack[u->sp++] = v;
    return DG_OK;
}

/* the lowest stack slot an ordinary pop may take: values under the last MARK are out of reach */
static size_t floor_(const unpickler *u)
{
    return u->n_marks ? u->marks[u->n_marks - 1] : 0;
}

static pv *pop(unpickler *u)
{
    if (u->sp <= floor_(u)) {
        fail(u, DG_E_FORMAT, "pickle stack underflow");
        return NULL;
    }
    return u->stack[--u->sp];
}

static pv *top(unpickler *u)
{
    if (u->sp <= floor_(u)) {
        fail(u, DG_E_FORMAT, "pickle stack underflow");
        return NULL;
    }
    return u->stack[u->sp - 1];
}

static dg_code add_item(unpickler *u, pv *c, pv *v)
{
    if (!grow(&c->items, &c->cap, c->n + 1, sizeof *c->items))
        return fail(u, DG_E_NOMEM, "out of memory");
    c->items[c->n++] = v;
    return DG_OK;
}

/* Pops everything above the last MARK into *first..*first+*n (still in the stack array). */
static dg_code pop_mark(unpickler *u, pv ***first, size_t *n)
{
    if (!u->n_marks)
        return fail(u, DG_E_FORMAT, "no MARK on the pickle stack");
    size_t base = u->marks[--u->n_marks];
    /* an empty stack may have no array yet: NULL + 0 is undefined behaviour in C */
    *first = u->stack ? u->stack + base : NULL;
    *n = u->sp - base;
    u->sp = base;
    return DG_OK;
}

static bool take(unpickler *u, size_t n, const uint8_t **at)
{
    if ((size_t)(u->end - u->p) < n)
        return false;
    *at = u->p;
    u->p += n;
    return true;
}

static uint64_t le(const uint8_t *b, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | b[i];
    return v;
}

static dg_code resolve_global(unpickler *u, const char *mod, size_t ml, const char *name, size_t nl)
{
    static const struct {
        const char *mod, *name;
        pv_global g;
        dg_dtype dtype;
    } allowed[] = {
        {"collections", "OrderedDict", G_ORDERED_DICT, DG_DTYPE_F32},
        {"torch._utils", "_rebuild_tensor_v2", G_REBUILD_TENSOR, DG_DTYPE_F32},
        {"torch._utils", "_rebuild_parameter", G_REBUILD_PARAM, DG_DTYPE_F32},
        {"torch", "FloatStorage", G_STORAGE, DG_DTYPE_F32},
        {"torch", "HalfStorage", G_STORAGE, DG_DTYPE_F16},
        {"torch", "BFloat16Storage", G_STORAGE, DG_DTYPE_BF16},
    };
    for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++)
        if (strlen(allowed[i].mod) == ml && !memcmp(allowed[i].mod, mod, ml) &&
            strlen(allowed[i].name) == nl && !memcmp(allowed[i].name, name, nl)) {
            pv *v = new_value(u, PV_GLOBAL);
            if (v) {
                v->g = allowed[i].g;
                v->dtype = allowed[i].dtype;
            }
            return push(u, v);
        }
    char msg[300];
    if (ml == 5 && !memcmp(mod, "torch", 5) && nl > 7 && !memcmp(name + nl - 7, "Storage", 7))
        snprintf(msg, sizeof msg, "storage type torch.%.*s is not supported (float, half, bfloat16 only)",
                 (int)nl, name);
    else
        snprintf(msg, sizeof msg, "pickle global '%.*s.%.*s' is not allowed", (int)ml, mod, (int)nl, name);
    return fail(u, DG_E_UNSUPPORTED, msg);
}

/* GLOBAL: "module\nname\n" */
static dg_code op_global(unpickler *u)
{
    const char *line[2];
    size_t len[2];
    for (int k = 0; k < 2; k++) {
        const uint8_t *nl = memchr(u->p, '\n', (size_t)(u->end - u->p));
        if (!nl || nl - u->p > 200)
            return fail(u, DG_E_FORMAT, "unterminated GLOBAL");
        line[k] = (const char *)u->p;
        len[k] = (size_t)(nl - u->p);
        u->p = nl + 1;
    }
    return resolve_global(u, line[0], len[0], line[1], len[1]);
}

static bool is_str(const pv *v, const char *s)
{
    return v && v->kind == PV_STR && v->len == strlen(s) && !memcmp(v->s, s, v->len);
}

/* BINPERSID with ('storage', storage class, key, location, numel) */
static dg_code op_persid(unpickler *u)
{
    pv *t = pop(u);
    if (!t)
        return u->err->code;
    if (t->kind != PV_TUPLE || t->n != 5 || !is_str(t->items[0], "storage") ||
        t->items[1]->kind != PV_GLOBAL || t->items[1]->g != G_STORAGE || t->items[2]->kind != PV_STR ||
        t->items[4]->kind != PV_INT || t->items[4]->i < 0)
        return fail(u, DG_E_FORMAT, "persistent id is not ('storage', type, key, location, numel)");
    const pv *key = t->items[2];
    char name[512];
    if (snprintf(name, sizeof name, "%sdata/%.*s", u->prefix, (int)key->len, key->s) >= (int)sizeof name)
        return fail(u, DG_E_FORMAT, "storage key too long");
    const dg_zip_entry *e = dg_zip_find(u->zip, name);
    if (!e) {
        char msg[600];
        snprintf(msg, sizeof msg, "storage entry '%s' missing from the zip", name);
        return fail(u, DG_E_FORMAT, msg);
    }
    pv *s = new_value(u, PV_STORAGE);
    if (!s)
        return u->err->code;
    s->dtype = t->items[1]->dtype;
    s->numel = (uint64_t)t->items[4]->i;
    s->data = e->data;
    if (s->numel > (uint64_t)INT64_MAX / 8 || s->numel * dg_dtype_size(s->dtype) != e->size) {
        char msg[600];
        snprintf(msg, sizeof msg, "storage '%s' holds %llu bytes, not %llu elements", name,
                 (unsigned long long)e->size, (unsigned long long)s->numel);
        return fail(u, DG_E_FORMAT, msg);
    }
    return push(u, s);
}

static dg_code int_tuple(unpickler *u, const pv *t, int64_t *out, int *n)
{
    if (t->kind != PV_TUPLE || t->n > DG_MAX_DIMS)
        return fail(u, DG_E_FORMAT, "tensor size/stride is not a tuple of at most 8 ints");
    for (size_t i = 0; i < t->n; i++) {
        if (t->items[i]->kind != PV_INT || t->items[i]->i < 0)
            return fail(u, DG_E_FORMAT, "tensor size/stride entry is not a non-negative int");
        out[i] = t->items[i]->i;
    }
    *n = (int)t->n;
    return DG_OK;
}

/* _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, hooks[, metadata]) */
static dg_code rebuild_tensor(unpickler *u, const pv *a)
{
    if (a->n < 4 || a->n > 7 || a->items[0]->kind != PV_STORAGE || a->items[1]->kind != PV_INT ||
        a->items[1]->i < 0)
        return fail(u, DG_E_FORMAT, "bad _rebuild_tensor_v2 arguments");
    pv *t = new_value(u, PV_TENSOR);
    if (!t)
        return u->err->code;
    const pv *s = a->items[0];
    int nd_stride;
    dg_code rc;
    if ((rc = int_tuple(u, a->items[2], t->shape, &t->ndim)) ||
        (rc = int_tuple(u, a->items[3], t->stride, &nd_stride)))
        return rc;
    if (nd_stride != t->ndim)
        return fail(u, DG_E_FORMAT, "tensor size and stride differ in length");
    if (!dg_shape_numel(t->ndim, t->shape, &t->numel))
        return fail(u, DG_E_FORMAT, "tensor shape too large");
    uint64_t last = (uint64_t)a->items[1]->i; /* index of the furthest element */
    bool ok = last < s->numel || (t->numel == 0 && last <= s->numel);
    for (int d = 0; d < t->ndim && t->numel; d++) {
        uint64_t step;
        ok = ok && !__builtin_mul_overflow((uint64_t)(t->shape[d] - 1), (uint64_t)t->stride[d], &step) &&
             !__builtin_add_overflow(last, step, &last) && last < s->numel;
    }
    if (!ok)
        return fail(u, DG_E_FORMAT, "tensor view reaches past the end of its storage");
    t->dtype = s->dtype;
    t->data = s->data + (uint64_t)a->items[1]->i * dg_dtype_size(s->dtype);
    return push(u, t);
}

static dg_code op_reduce(unpickler *u)
{
    pv *args = pop(u), *fn = args ? pop(u) : NULL;
    if (!fn)
        return u->err->code;
    if (fn->kind != PV_GLOBAL || args->kind != PV_TUPLE)
        return fail(u, DG_E_FORMAT, "REDUCE needs a global and an argument tuple");
    switch (fn->g) {
    case G_ORDERED_DICT:
        if (args->n)
            return fail(u, DG_E_FORMAT, "OrderedDict called with arguments");
        return push(u, new_value(u, PV_DICT));
    case G_REBUILD_TENSOR:
        return rebuild_tensor(u, args);
    case G_REBUILD_PARAM:
        if (args->n < 1 || args->items[0]->kind != PV_TENSOR)
            return fail(u, DG_E_FORMAT, "bad _rebuild_parameter arguments");
        return push(u, args->items[0]);
    case G_STORAGE:
        break;
    }
    return fail(u, DG_E_FORMAT, "a storage class is not callable");
}

static dg_code op_setitems(unpickler *u, bool single)
{
    pv **kv = NULL, *one[2];
    size_t n = 0;
    dg_code rc;
    if (single) {
        one[1] = pop(u);
        one[0] = one[1] ? pop(u) : NULL;
        if (!one[0])
            return u->err->code;
        kv = one;
        n = 2;
    } else if ((rc = pop_mark(u, &kv, &n))) {
        return rc;
    }
    pv *d = top(u);
    if (!d)
        return u->err->code;
    if (d->kind != PV_DICT || n % 2)
        return fail(u, DG_E_FORMAT, "SETITEM(S) on something other than a dict");
    for (size_t i = 0; i < n; i++)
        if ((rc = add_item(u, d, kv[i])))
            return rc;
    return DG_OK;
}

static dg_code op_appends(unpickler *u, bool single)
{
    pv **items = NULL, *one;
    size_t n = 0;
    dg_code rc;
    if (single) {
        if (!(one = pop(u)))
            return u->err->code;
        items = &one;
        n = 1;
    } else if ((rc = pop_mark(u, &items, &n))) {
        return rc;
    }
    pv *l = top(u);
    if (!l)
        return u->err->code;
    if (l->kind != PV_LIST)
        return fail(u, DG_E_FORMAT, "APPEND(S) on something other than a list");
    for (size_t i = 0; i < n; i++)
        if ((rc = add_item(u, l, items[i])))
            return rc;
    return DG_OK;
}

static dg_code make_tuple(unpickler *u, pv **items, size_t n)
{
    pv *t = new_value(u, PV_TUPLE);
    if (!t)
        return u->err->code;
    for (size_t i = 0; i < n; i++) {
        dg_code rc = add_item(u, t, items[i]);
        if (rc)
            return rc;
    }
    return push(u, t);
}

static dg_code memo_put(unpickler *u, uint64_t id)
{
    pv *v = top(u);
    if (!v)
        return u->err->code;
    if (id >= MAX_MEMO)
        return fail(u, DG_E_FORMAT, "memo index too large");
    if (!grow(&u->memo, &u->memo_cap, (size_t)id + 1, sizeof *u->memo))
        return fail(u, DG_E_NOMEM, "out of memory");
    if (!u->memo[id])
        u->memo_len++;
    u->memo[id] = v;
    return DG_OK;
}

static dg_code memo_get(unpickler *u, uint64_t id)
{
    if (id >= u->memo_cap || !u->memo[id])
        return fail(u, DG_E_FORMAT, "memo index not set");
    return push(u, u->memo[id]);
}

static dg_code new_str(unpickler *u, uint64_t len)
{
    const uint8_t *at;
    if (!take(u, len, &at))
        return fail(u, DG_E_FORMAT, "truncated string");
    pv *v = new_value(u, PV_STR);
    if (v) {
        v->s = (const char *)at;
        v->len = (size_t)len;
    }
    return push(u, v);
}

static dg_code new_int(unpickler *u, int64_t i, pv_kind kind)
{
    pv *v = new_value(u, kind);
    if (v)
        v->i = i;
    return push(u, v);
}

/* Runs the pickle to STOP; *result is the unpickled object. */
static dg_code run(unpickler *u, pv **result)
{
    const uint8_t *a;
    for (;;) {
        if (!take(u, 1, &a))
            return fail(u, DG_E_FORMAT, "pickle ends without STOP");
        uint8_t op = *a;
        dg_code rc = DG_OK;
        pv **items = NULL;
        size_t n = 0;
#define ARG(k)                                                        \
    do {                                                              \
        if (!take(u, (k), &a))                                        \
            return fail(u, DG_E_FORMAT, "truncated opcode argument"); \
    } while (0)
        switch (op) {
        case 0x80: /* PROTO */
            ARG(1);
            if (*a < 2 || *a > 5)
                return fail(u, DG_E_UNSUPPORTED, "unsupported pickle protocol");
            break;
        case 0x95: /* FRAME: a length prefix only */
            ARG(8);
            break;
        case '}': rc = push(u, new_value(u, PV_DICT)); break;
        case ']': rc = push(u, new_value(u, PV_LIST)); break;
        case ')': rc = make_tuple(u, NULL, 0); break;
        case 'N': rc = push(u, new_value(u, PV_NONE)); break;
        case 0x88: rc = new_int(u, 1, PV_BOOL); break;
        case 0x89: rc = new_int(u, 0, PV_BOOL); break;
        case 'K': ARG(1); rc = new_int(u, a[0], PV_INT); break;
        case 'M': ARG(2); rc = new_int(u, (int64_t)le(a, 2), PV_INT); break;
        case 'J': ARG(4); rc = new_int(u, (int32_t)(uint32_t)le(a, 4), PV_INT); break;
        case 0x8a: { /* LONG1: little-endian two's complement of n <= 8 bytes */
            ARG(1);
            int nb = a[0];
            if (nb > 8)
                return fail(u, DG_E_FORMAT, "LONG1 wider than 64 bits");
            ARG((size_t)nb);
            uint64_t v = le(a, nb);
            if (nb && nb < 8 && (a[nb - 1] & 0x80))
                v |= ~0ull << (8 * nb);
            rc = new_int(u, (int64_t)v, PV_INT);
            break;
        }
        case 'X': ARG(4); rc = new_str(u, le(a, 4)); break;
        case 0x8c: ARG(1); rc = new_str(u, a[0]); break;
        case 'c': rc = op_global(u); break;
        case 0x93: { /* STACK_GLOBAL */
            pv *name = pop(u), *mod = name ? pop(u) : NULL;
            if (!mod)
                return u->err->code;
            if (mod->kind != PV_STR || name->kind != PV_STR)
                return fail(u, DG_E_FORMAT, "STACK_GLOBAL needs two strings");
            rc = resolve_global(u, mod->s, mod->len, name->s, name->len);
            break;
        }
        case '(':
            if (u->n_marks >= MAX_STACK || !grow(&u->marks, &u->marks_cap, u->n_marks + 1, sizeof *u->marks))
                return fail(u, DG_E_FORMAT, "too many MARKs");
            u->marks[u->n_marks++] = u->sp;
            break;
        case 't':
            if (!(rc = pop_mark(u, &items, &n)))
                rc = make_tuple(u, items, n);
            break;
        case 0x85: case 0x86: case 0x87: /* TUPLE1..3 */
            n = (size_t)(op - 0x84);
            if (u->sp < floor_(u) + n)
                return fail(u, DG_E_FORMAT, "pickle stack underflow");
            u->sp -= n;
            rc = make_tuple(u, u->stack + u->sp, n);
            break;
        case 'q': ARG(1); rc = memo_put(u, a[0]); break;
        case 'r': ARG(4); rc = memo_put(u, le(a, 4)); break;
        case 0x94: rc = memo_put(u, u->memo_len); break;
        case 'h': ARG(1); rc = memo_get(u, a[0]); break;
        case 'j': ARG(4); rc = memo_get(u, le(a, 4)); break;
        case 'R': rc = op_reduce(u); break;
        case 'Q': rc = op_persid(u); break;
        case 's': rc = op_setitems(u, true); break;
        case 'u': rc = op_setitems(u, false); break;
        case 'a': rc = op_appends(u, true); break;
        case 'e': rc = op_appends(u, false); break;
        case 'b': { /* BUILD: only an OrderedDict's attribute state (_metadata), which we ignore */
            pv *state = pop(u), *obj = state ? top(u) : NULL;
            if (!obj)
                return u->err->code;
            if (obj->kind != PV_DICT)
                return fail(u, DG_E_FORMAT, "BUILD on something other than an OrderedDict");
            break;
        }
        case '.':
            if (!(*result = pop(u)))
                return u->err->code;
            return DG_OK;
        default: {
            char msg[64];
            u->p--;
            snprintf(msg, sizeof msg, "unsupported pickle opcode 0x%02x", op);
            return fail(u, DG_E_FORMAT, msg);
        }
        }
#undef ARG
        if (rc)
            return rc;
    }
}

/* Locates "<archive>/data.pkl" (archive = the one top-level folder) and checks byteorder. */
static dg_code find_archive(const char *path, const dg_zip *z, char *prefix, size_t cap,
                            const dg_zip_entry **pkl, dg_err *err)
{
    for (int i = 0; i < z->n; i++) {
        const dg_zip_entry *e = &z->e[i];
        if (e->name_len < 9 || e->name_len - 8 >= cap || memcmp(e->name + e->name_len - 9, "/data.pkl", 9))
            continue;
        size_t plen = e->name_len - 8;
        if (memchr(e->name, '/', plen - 1))
            continue;
        memcpy(prefix, e->name, plen);
        prefix[plen] = 0;
        *pkl = e;
        char name[300];
        snprintf(name, sizeof name, "%sbyteorder", prefix);
        const dg_zip_entry *bo = dg_zip_find(z, name);
        if (bo && !(bo->size == 6 && !memcmp(bo->data, "little", 6)))
            return dg_err_set(err, DG_E_UNSUPPORTED, "%s: big-endian tensor data is not supported", path);
        return DG_OK;
    }
    return dg_err_set(err, DG_E_FORMAT, "%s: zip has no <archive>/data.pkl entry (not a torch.save file)",
                      path);
}

static dg_code emit(unpickler *u, const pv *d, dg_tensor_list *out)
{
    if (d->kind != PV_DICT)
        return dg_err_set(u->err, DG_E_FORMAT, "%s: data.pkl does not hold a state dict", u->path);
    for (size_t i = 0; i + 1 < d->n; i += 2) {
        const pv *k = d->items[i], *v = d->items[i + 1];
        if (k->kind != PV_STR || k->len == 0 || k->len > 1024)
            return dg_err_set(u->err, DG_E_FORMAT, "%s: state dict key %zu is not a tensor name", u->path,
                              i / 2);
        if (v->kind != PV_TENSOR)
            return dg_err_set(u->err, DG_E_FORMAT, "%s: state dict entry '%.*s' is not a tensor", u->path,
                              (int)k->len, k->s);
        dg_tensor_entry *e = dg_tensor_list_add(out, k->s, k->len, u->err);
        if (!e)
            return DG_E_NOMEM;
        e->info.dtype = v->dtype;
        e->info.ndim = v->ndim;
        memcpy(e->info.shape, v->shape, sizeof v->shape);
        memcpy(e->stride, v->stride, sizeof v->stride);
        e->numel = v->numel;
        e->data = v->data;
    }
    return DG_OK;
}

dg_code dg_torch_zip_parse(const char *path, const uint8_t *buf, size_t size, dg_tensor_list *out,
                           dg_err *err)
{
    dg_err local;
    if (!err)
        err = &local; /* the unpickler reads codes back from err */
    if (size >= 2 && buf[0] == 0x80 && buf[1] <= 5)
        return dg_err_set(err, DG_E_UNSUPPORTED,
                          "%s: unsupported legacy (non-zip) PyTorch format; re-save it with torch.save "
                          "from PyTorch >= 1.6",
                          path);
    if (size < 4 || memcmp(buf, "PK\x03\x04", 4))
        return dg_err_set(err, DG_E_FORMAT, "%s: not a zip archive", path);
    dg_zip z;
    dg_code rc = dg_zip_open(&z, path, buf, size, err);
    char prefix[256];
    const dg_zip_entry *pkl = NULL;
    if (!rc)
        rc = find_archive(path, &z, prefix, sizeof prefix, &pkl, err);
    if (rc) {
        dg_zip_free(&z);
        return rc;
    }
    unpickler u = {.path = path, .start = pkl->data, .p = pkl->data, .end = pkl->data + pkl->size,
                   .zip = &z, .prefix = prefix, .err = err};
    pv *result = NULL;
    rc = run(&u, &result);
    if (!rc)
        rc = emit(&u, result, out);
    for (size_t i = 0; i < u.n_all; i++) {
        free(u.all[i]->items);
        free(u.all[i]);
    }
    free(u.all);
    free(u.stack);
    free(u.marks);
    free(u.memo);
    dg_zip_free(&z);
    return rc;
}
