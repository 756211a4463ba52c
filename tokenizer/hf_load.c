/* DESIGN: builds a dg_hf from a checkpoint folder the way the slow tokenizer classes'
 * from_pretrained do in transformers 4.40:
 *   - tokenizer_config.json (optional): the special-token strings, additional_special_tokens,
 *     added_tokens_decoder (whose ids and lstrip/rstrip flags win), src_lang / tgt_lang,
 *     legacy / legacy_behaviour / add_prefix_space / clean_up_tokenization_spaces;
 *   - special_tokens_map.json (optional): the token strings tokenizer_config.json leaves out;
 *   - the model files: spiece.model (T5), sentencepiece.bpe.model (mBART, mBART-50, NLLB,
 *     M2M100 with vocab.json), vocab.json + merges.txt (BART);
 *   - config.json (optional): T5's task_specific_params.
 * Without added_tokens_decoder (folders saved before 4.34) the ids are laid out as the class
 * __init__ lays them out: T5's extra ids at the end of the spm vocabulary in reverse order,
 * fairseq codes after the spm pieces then `<mask>`, M2M100's `__xx__` after vocab.json. */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tokenizer/hf_internal.h"
#include "tokenizer/tok_json.h"

static const char *const sp_key[DG_HS_N] = {"bos_token", "eos_token", "unk_token", "sep_token",
                                           "pad_token", "cls_token", "mask_token"};

typedef struct {
    const char *dir;
    char cfg_path[PATH_MAX], map_path[PATH_MAX];
    json_t *cfg, *map, *mcfg;
} load_ctx;

static dg_code path_in(char *buf, size_t cap, const char *dir, const char *name, dg_err *err)
{
    if ((size_t)snprintf(buf, cap, "%s/%s", dir, name) >= cap)
        return dg_err_set(err, DG_E_IO, "%s: path too long", dir);
    return DG_OK;
}

static dg_code nomem(dg_err *err)
{
    return dg_err_set(err, DG_E_NOMEM, "out of memory loading the tokenizer");
}

static dg_code cfg_bool(const load_ctx *c, const char *key, bool *out, dg_err *err)
{
    json_t *v = c->cfg ? json_object_get(c->cfg, key) : NULL;
    if (!v || json_is_null(v))
        return DG_OK;
    if (!json_is_boolean(v))
        return dg_err_set(err, DG_E_CONFIG, "%s: %s must be true or false", c->cfg_path, key);
    *out = json_is_true(v);
    return DG_OK;
}

static const char *cfg_string(const load_ctx *c, const char *key)
{
    json_t *v = c->cfg ? json_object_get(c->cfg, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* ===== special tokens ===== */

/* The class defaults of transformers 4.40 (NULL: the class has no such token). */
static const char *sp_default(dg_tokenizer_kind kind, int k)
{
    static const char *const full[DG_HS_N] = {"<s>", "</s>", "<unk>", "</s>", "<pad>", "<s>",
                                              "<mask>"};
    switch (kind) {
    case DG_TOK_T5:
        return k == DG_HS_EOS ? "</s>" : k == DG_HS_UNK ? "<unk>" : k == DG_HS_PAD ? "<pad>" : NULL;
    case DG_TOK_M2M100:
        return k == DG_HS_CLS || k == DG_HS_MASK ? NULL : full[k];
    default:
        return full[k];
    }
}

static dg_code read_specials(dg_hf *h, const load_ctx *c, dg_err *err)
{
    dg_code rc;
    for (int k = 0; k < DG_HS_N; k++) {
        const char *s = sp_default(h->kind, k);
        json_t *v = NULL;
        const char *path = c->cfg_path;
        if (c->cfg && (v = json_object_get(c->cfg, sp_key[k])) != NULL) {
        } else if (c->map && (v = json_object_get(c->map, sp_key[k])) != NULL) {
            path = c->map_path;
        }
        if (v && json_is_null(v))
            s = NULL;
        else if (v && (rc = dg_tok_json_token(v, path, sp_key[k], &s, err)) != DG_OK)
            return rc;
        if (s && !(h->sp_str[k] = strdup(s)))
            return nomem(err);
    }
    if (!h->sp_str[DG_HS_UNK] || !h->sp_str[DG_HS_EOS])
        return dg_err_set(err, DG_E_CONFIG, "%s: unk_token and eos_token must be set",
                          c->cfg_path);
    return DG_OK;
}

static bool has_string(char *const *v, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(v[i], s))
            return true;
    return false;
}

static dg_code push_extra(dg_hf *h, const char *s, dg_err *err)
{
    if (has_string(h->extra_special, h->n_extra_special, s))
        return DG_OK;
    char **v = realloc(h->extra_special, (size_t)(h->n_extra_special + 1) * sizeof *v);
    if (!v)
        return nomem(err);
    h->extra_special = v;
    if (!(v[h->n_extra_special] = strdup(s)))
        return nomem(err);
    h->n_extra_special++;
    return DG_OK;
}

/* additional_special_tokens as the class __init__ assembles them. Sets *given to whether the
 * folder lists any (NLLB then takes its language codes from them). */
static dg_code read_extra(dg_hf *h, const load_ctx *c, bool *given, dg_err *err)
{
    json_t *v = c->cfg ? json_object_get(c->cfg, "additional_special_tokens") : NULL;
    const char *path = c->cfg_path;
    if ((!v || json_is_null(v)) && c->map) {
        v = json_object_get(c->map, "additional_special_tokens");
        path = c->map_path;
    }
    *given = v && !json_is_null(v);
    if (*given && !json_is_array(v))
        return dg_err_set(err, DG_E_CONFIG, "%s: additional_special_tokens is not a list", path);
    dg_code rc;
    if (h->kind == DG_TOK_MBART || h->kind == DG_TOK_MBART50) {
        const char *const *codes = h->kind == DG_TOK_MBART ? dg_codes_mbart : dg_codes_mbart50;
        int n = h->kind == DG_TOK_MBART ? dg_codes_mbart_n : dg_codes_mbart50_n;
        for (int i = 0; i < n; i++)
            if ((rc = push_extra(h, codes[i], err)) != DG_OK)
                return rc;
    }
    if (*given) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            const char *s;
            if ((rc = dg_tok_json_token(e, path, "additional_special_tokens entry", &s, err)) !=
                    DG_OK ||
                (rc = push_extra(h, s, err)) != DG_OK)
                return rc;
        }
    } else if (h->kind == DG_TOK_T5) {
        json_t *x = c->cfg ? json_object_get(c->cfg, "extra_ids") : NULL;
        long n = 100;
        if (x && !dg_tok_json_int(x, 0, 100000, &n))
            return dg_err_set(err, DG_E_CONFIG, "%s: extra_ids is not an integer in 0..100000",
                              c->cfg_path);
        char buf[32];
        for (long i = 0; i < n; i++) {
            snprintf(buf, sizeof buf, "<extra_id_%ld>", i);
            if ((rc = push_extra(h, buf, err)) != DG_OK)
                return rc;
        }
    } else if (h->kind == DG_TOK_NLLB) {
        for (int i = 0; i < dg_codes_nllb_n; i++)
            if ((rc = push_extra(h, dg_codes_nllb[i], err)) != DG_OK)
                return rc;
    }
    return DG_OK;
}

/* ===== languages ===== */

static dg_code push_lang(dg_hf *h, const char *code, const char *token, int id, dg_err *err)
{
    dg_hf_lang *v = realloc(h->langs, (size_t)(h->n_langs + 1) * sizeof *v);
    if (!v)
        return nomem(err);
    h->langs = v;
    dg_hf_lang *l = &v[h->n_langs];
    l->code = strdup(code);
    l->token = strdup(token);
    l->id = id;
    h->n_langs++;
    return l->code && l->token ? DG_OK : nomem(err);
}

/* The class's language codes and their computed ids (added tokens may override the id later). */
static dg_code read_langs(dg_hf *h, const load_ctx *c, bool extra_given, dg_err *err)
{
    dg_code rc;
    const char *const *codes = NULL;
    int n = 0;
    switch (h->kind) {
    case DG_TOK_MBART: codes = dg_codes_mbart; n = dg_codes_mbart_n; break;
    case DG_TOK_MBART50: codes = dg_codes_mbart50; n = dg_codes_mbart50_n; break;
    case DG_TOK_NLLB:
        /* 4.40: language_codes = additional_special_tokens when given, else FAIRSEQ */
        for (int i = 0; i < h->n_extra_special; i++)
            if ((rc = push_lang(h, h->extra_special[i], h->extra_special[i],
                                dg_spm_size(h->spm) + 1 + i, err)) != DG_OK)
                return rc;
        (void)extra_given;
        return DG_OK;
    case DG_TOK_M2M100: {
        const char *set = cfg_string(c, "language_codes");
        if (!set || !strcmp(set, "m2m100")) {
            codes = dg_codes_m2m100;
            n = dg_codes_m2m100_n;
        } else if (!strcmp(set, "wmt21")) {
            codes = dg_codes_wmt21;
            n = dg_codes_wmt21_n;
        } else {
            return dg_err_set(err, DG_E_UNSUPPORTED,
                              "%s: language_codes \"%.32s\" is neither m2m100 nor wmt21",
                              c->cfg_path, set);
        }
        int base = dg_vocab_size(h->vocab);
        char tok[64];
        for (int i = 0; i < n; i++) {
            snprintf(tok, sizeof tok, "__%s__", codes[i]);
            if ((rc = push_lang(h, codes[i], tok, base + i, err)) != DG_OK)
                return rc;
        }
        return DG_OK;
    }
    default:
        return DG_OK;
    }
    for (int i = 0; i < n; i++)
        if ((rc = push_lang(h, codes[i], codes[i], dg_spm_size(h->spm) + 1 + i, err)) != DG_OK)
            return rc;
    return DG_OK;
}

static int lang_index(const dg_hf *h, const char *code)
{
    for (int i = 0; i < h->n_langs; i++)
        if (!strcmp(h->langs[i].code, code))
            return i;
    return -1;
}

static dg_code read_default_langs(dg_hf *h, const load_ctx *c, dg_err *err)
{
    h->src_lang = h->tgt_lang = -1;
    if (!h->n_langs)
        return DG_OK;
    const char *src = cfg_string(c, "src_lang");
    const char *tgt = cfg_string(c, "tgt_lang");
    if (!src)
        src = h->kind == DG_TOK_NLLB ? "eng_Latn" : h->kind == DG_TOK_M2M100 ? "en" : "en_XX";
    if ((h->src_lang = lang_index(h, src)) < 0)
        return dg_err_set(err, DG_E_CONFIG, "%s: src_lang \"%.32s\" is not a language code of %s",
                          c->cfg_path, src, dg_tokenizer_kind_name(h->kind));
    if (tgt && (h->tgt_lang = lang_index(h, tgt)) < 0)
        return dg_err_set(err, DG_E_CONFIG, "%s: tgt_lang \"%.32s\" is not a language code of %s",
                          c->cfg_path, tgt, dg_tokenizer_kind_name(h->kind));
    return DG_OK;
}

/* T5: config.json task_specific_params {"translation_en_to_de": {"prefix": "..."}}. */
static dg_code read_tasks(dg_hf *h, const load_ctx *c, dg_err *err)
{
    json_t *tp = c->mcfg ? json_object_get(c->mcfg, "task_specific_params") : NULL;
    if (!json_is_object(tp))
        return DG_OK;
    const char *key;
    json_t *val;
    json_object_foreach(tp, key, val) {
        char src[16], tgt[16];
        int used = 0;
        if (sscanf(key, "translation_%15[a-zA-Z]_to_%15[a-zA-Z]%n", src, tgt, &used) != 2 ||
            key[used])
            continue;
        json_t *p = json_object_get(val, "prefix");
        if (!json_is_string(p))
            continue;
        dg_t5_task *v = realloc(h->tasks, (size_t)(h->n_tasks + 1) * sizeof *v);
        if (!v)
            return nomem(err);
        h->tasks = v;
        dg_t5_task *t = &v[h->n_tasks];
        snprintf(t->src, sizeof t->src, "%s", src);
        snprintf(t->tgt, sizeof t->tgt, "%s", tgt);
        if (!(t->prefix = strdup(json_string_value(p))))
            return nomem(err);
        h->n_tasks++;
    }
    return DG_OK;
}

/* ===== pieces and added tokens ===== */

static dg_code push_added(dg_hf *h, const char *s, int id, bool lstrip, bool rstrip, dg_err *err)
{
    for (int i = 0; i < h->n_added; i++)
        if (h->added[i].id == id || !strcmp(h->added[i].s, s))
            return DG_OK; /* the first registration wins, as in _add_tokens */
    dg_added *v = realloc(h->added, (size_t)(h->n_added + 1) * sizeof *v);
    if (!v)
        return nomem(err);
    h->added = v;
    dg_added *a = &v[h->n_added];
    if (!(a->s = strdup(s)))
        return nomem(err);
    a->len = strlen(s);
    a->id = id;
    a->lstrip = lstrip;
    a->rstrip = rstrip;
    h->n_added++;
    return DG_OK;
}

static dg_code read_added_decoder(dg_hf *h, const load_ctx *c, bool *found, dg_err *err)
{
    json_t *added = c->cfg ? json_object_get(c->cfg, "added_tokens_decoder") : NULL;
    *found = added && !json_is_null(added);
    if (!*found)
        return DG_OK;
    if (!json_is_object(added))
        return dg_err_set(err, DG_E_CONFIG, "%s: added_tokens_decoder is not an object",
                          c->cfg_path);
    const char *key;
    json_t *val;
    json_object_foreach(added, key, val) {
        char *end;
        long id = strtol(key, &end, 10);
        if (end == key || *end || id < 0 || id >= DG_VOCAB_MAX_ID)
            return dg_err_set(err, DG_E_CONFIG,
                              "%s: added_tokens_decoder key \"%.32s\" is not an id", c->cfg_path,
                              key);
        const char *content;
        dg_code rc = dg_tok_json_token(val, c->cfg_path, "added_tokens_decoder entry", &content,
                                       err);
        if (rc != DG_OK)
            return rc;
        if (json_is_true(json_object_get(val, "single_word")))
            return dg_err_set(err, DG_E_UNSUPPORTED,
                              "%s: added token \"%.64s\" sets single_word, which is not supported",
                              c->cfg_path, content);
        if ((rc = push_added(h, content, (int)id, json_is_true(json_object_get(val, "lstrip")),
                             json_is_true(json_object_get(val, "rstrip")), err)) != DG_OK)
            return rc;
    }
    return DG_OK;
}

static const dg_added *find_added(const dg_hf *h, const char *s)
{
    for (int i = 0; i < h->n_added; i++)
        if (!strcmp(h->added[i].s, s))
            return &h->added[i];
    return NULL;
}

/* The layout the class __init__ gives a folder without added_tokens_decoder. */
static dg_code default_added(dg_hf *h, dg_err *err)
{
    dg_code rc;
    int spn = h->spm ? dg_spm_size(h->spm) : 0;
    if (h->pmap == DG_PMAP_FAIRSEQ) {
        static const int order[4] = {DG_HS_BOS, DG_HS_PAD, DG_HS_EOS, DG_HS_UNK};
        for (int i = 0; i < 4; i++)
            if (h->sp_str[order[i]] && (rc = push_added(h, h->sp_str[order[i]], i, false, false,
                                                        err)) != DG_OK)
                return rc;
        for (int i = 0; i < h->n_langs; i++)
            if ((rc = push_added(h, h->langs[i].token, h->langs[i].id, false, false, err)) !=
                DG_OK)
                return rc;
        if (h->sp_str[DG_HS_MASK] && (rc = push_added(h, h->sp_str[DG_HS_MASK],
                                                      spn + h->n_langs + 1, true, false, err)) !=
                                         DG_OK)
            return rc;
    }
    if (h->kind == DG_TOK_T5) {
        int n = 0;
        for (int i = 0; i < h->n_extra_special; i++)
            n += !strncmp(h->extra_special[i], "<extra_id_", 10);
        char buf[32];
        for (int i = 0; i < n; i++) {
            snprintf(buf, sizeof buf, "<extra_id_%d>", i);
            if ((rc = push_added(h, buf, spn - 1 + n - i, true, true, err)) != DG_OK)
                return rc;
        }
    }
    if (h->kind == DG_TOK_M2M100)
        for (int i = 0; i < h->n_langs; i++)
            if (has_string(h->extra_special, h->n_extra_special, h->langs[i].token) &&
                (rc = push_added(h, h->langs[i].token, h->langs[i].id, false, false, err)) !=
                    DG_OK)
                return rc;
    if (h->kind == DG_TOK_BART && h->sp_str[DG_HS_MASK]) {
        int id = dg_vocab_find(h->vocab, h->sp_str[DG_HS_MASK], strlen(h->sp_str[DG_HS_MASK]));
        if (id >= 0 && (rc = push_added(h, h->sp_str[DG_HS_MASK], id, true, false, err)) != DG_OK)
            return rc;
    }
    return DG_OK;
}

/* Every special token becomes an added token (PreTrainedTokenizer.__init__'s _add_tokens): its
 * vocabulary id when the model has the piece, a language id for a language code. */
static dg_code register_specials(dg_hf *h, const load_ctx *c, dg_err *err)
{
    dg_code rc;
    for (int k = 0; k < DG_HS_N + h->n_extra_special; k++) {
        const char *s = k < DG_HS_N ? h->sp_str[k] : h->extra_special[k - DG_HS_N];
        if (!s || find_added(h, s))
            continue;
        int id = -1;
        for (int i = 0; i < h->n_langs && id < 0; i++)
            if (!strcmp(h->langs[i].token, s))
                id = h->langs[i].id;
        if (id < 0 && h->pmap == DG_PMAP_SPM) {
            int sid = dg_spm_piece_to_id(h->spm, s, strlen(s));
            size_t ul;
            const char *u = dg_spm_id_to_piece(h->spm, sid, &ul);
            if (u && ul == strlen(s) && !memcmp(u, s, ul))
                id = sid;
        } else if (id < 0 && h->vocab) {
            id = dg_vocab_find(h->vocab, s, strlen(s));
        }
        if (id < 0)
            return dg_err_set(err, DG_E_UNSUPPORTED,
                              "%s: special token \"%.64s\" has no id in the vocabulary and no "
                              "added_tokens_decoder entry", c->cfg_path, s);
        if ((rc = push_added(h, s, id, false, false, err)) != DG_OK)
            return rc;
    }
    return DG_OK;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int cmp_added_id(const void *a, const void *b)
{
    return cmp_int(&((const dg_added *)a)->id, &((const dg_added *)b)->id);
}

static dg_code finish_ids(dg_hf *h, const load_ctx *c, dg_err *err)
{
    qsort(h->added, (size_t)h->n_added, sizeof *h->added, cmp_added_id);
    for (int k = 0; k < DG_HS_N; k++) {
        h->sp_id[k] = -1;
        const dg_added *a = h->sp_str[k] ? find_added(h, h->sp_str[k]) : NULL;
        if (a)
            h->sp_id[k] = a->id;
    }
    /* languages: the registered id wins over the computed one */
    for (int i = 0; i < h->n_langs; i++) {
        const dg_added *a = find_added(h, h->langs[i].token);
        if (a)
            h->langs[i].id = a->id;
    }
    if (!(h->special_ids = malloc((size_t)(DG_HS_N + h->n_extra_special) * sizeof(int))))
        return nomem(err);
    for (int k = 0; k < DG_HS_N + h->n_extra_special; k++) {
        const char *s = k < DG_HS_N ? h->sp_str[k] : h->extra_special[k - DG_HS_N];
        const dg_added *a = s ? find_added(h, s) : NULL;
        if (a)
            h->special_ids[h->n_special_ids++] = a->id;
    }
    qsort(h->special_ids, (size_t)h->n_special_ids, sizeof(int), cmp_int);
    int spn = h->spm ? dg_spm_size(h->spm) : 0;
    switch (h->kind) {
    case DG_TOK_T5: h->vocab_size = spn; h->id_limit = spn; break;
    case DG_TOK_MBART:
    case DG_TOK_MBART50:
        h->vocab_size = spn + h->n_langs + 2;
        h->id_limit = spn + 1;
        break;
    case DG_TOK_NLLB: h->vocab_size = h->id_limit = spn + 1; break;
    case DG_TOK_M2M100: {
        h->vocab_size = dg_vocab_size(h->vocab);
        json_t *m = c->cfg ? json_object_get(c->cfg, "num_madeup_words") : NULL;
        long madeup = 8;
        if (m && !dg_tok_json_int(m, 0, 1000, &madeup))
            return dg_err_set(err, DG_E_CONFIG,
                              "%s: num_madeup_words is not an integer in 0..1000", c->cfg_path);
        /* M2M100 decodes any id: unknown ones read "<unk>" (decoder.get(index, unk_token)) */
        h->id_limit = dg_vocab_id_limit(h->vocab);
        if (h->vocab_size + h->n_langs + madeup > h->id_limit)
            h->id_limit = h->vocab_size + h->n_langs + (int)madeup;
        break;
    }
    default: h->vocab_size = dg_vocab_size(h->vocab); h->id_limit = dg_vocab_id_limit(h->vocab);
    }
    for (int i = 0; i < h->n_added; i++)
        if (h->added[i].id >= h->id_limit)
            h->id_limit = h->added[i].id + 1;
    if (h->sp_id[DG_HS_UNK] < 0 || h->sp_id[DG_HS_EOS] < 0)
        return dg_err_set(err, DG_E_CONFIG, "%s: unk/eos token without an id", c->cfg_path);
    /* the added-token index by first byte, for the split */
    if (!(h->by_byte = malloc((size_t)(h->n_added ? h->n_added : 1) * sizeof(int))))
        return nomem(err);
    int j = 0;
    for (int b = 0; b < 256; b++) {
        h->first_by_byte[b] = j;
        for (int i = 0; i < h->n_added; i++)
            if ((unsigned char)h->added[i].s[0] == b)
                h->by_byte[j++] = i;
    }
    h->first_by_byte[256] = j;
    return DG_OK;
}

/* ===== files ===== */

static dg_code load_model_files(dg_hf *h, const load_ctx *c, dg_err *err)
{
    char path[PATH_MAX], merges[PATH_MAX];
    dg_code rc;
    switch (h->kind) {
    case DG_TOK_T5:
        if ((rc = path_in(path, sizeof path, c->dir, "spiece.model", err)) != DG_OK)
            return rc;
        return h->legacy ? dg_spm_load(path, &h->spm, err)
                         : dg_spm_load_no_dummy_prefix(path, &h->spm, err);
    case DG_TOK_BART:
        if ((rc = path_in(path, sizeof path, c->dir, "vocab.json", err)) != DG_OK ||
            (rc = path_in(merges, sizeof merges, c->dir, "merges.txt", err)) != DG_OK ||
            (rc = dg_vocab_load(path, &h->vocab, err)) != DG_OK)
            return rc;
        return dg_bpe_load(merges, h->vocab, &h->bpe, err);
    case DG_TOK_M2M100:
        if ((rc = path_in(path, sizeof path, c->dir, "vocab.json", err)) != DG_OK ||
            (rc = dg_vocab_load(path, &h->vocab, err)) != DG_OK)
            return rc;
        __attribute__((fallthrough)); /* plus the spm */
    default: {
        const char *name = cfg_string(c, "spm_file");
        if (!name || strchr(name, '/'))
            name = "sentencepiece.bpe.model";
        if ((rc = path_in(path, sizeof path, c->dir, name, err)) != DG_OK)
            return rc;
        return dg_spm_load(path, &h->spm, err);
    }
    }
}

static dg_code read_flags(dg_hf *h, const load_ctx *c, dg_err *err)
{
    dg_code rc;
    h->cleanup = true;
    h->legacy = true;
    h->prefix_space = h->kind == DG_TOK_T5;
    bool nllb_legacy = false;
    if ((rc = cfg_bool(c, "clean_up_tokenization_spaces", &h->cleanup, err)) != DG_OK ||
        (rc = cfg_bool(c, "legacy", &h->legacy, err)) != DG_OK ||
        (rc = cfg_bool(c, "add_prefix_space", &h->prefix_space, err)) != DG_OK ||
        (rc = cfg_bool(c, "legacy_behaviour", &nllb_legacy, err)) != DG_OK)
        return rc;
    json_t *kw = c->cfg ? json_object_get(c->cfg, "sp_model_kwargs") : NULL;
    if (kw && !json_is_null(kw) && !(json_is_object(kw) && json_object_size(kw) == 0))
        return dg_err_set(err, DG_E_UNSUPPORTED,
                          "%s: sp_model_kwargs (SentencePiece sampling options) are not supported",
                          c->cfg_path);
    const char *errors = cfg_string(c, "errors");
    if (h->kind == DG_TOK_BART && errors && strcmp(errors, "replace"))
        return dg_err_set(err, DG_E_UNSUPPORTED,
                          "%s: errors \"%.32s\" is not supported (only \"replace\")", c->cfg_path,
                          errors);
    switch (h->kind) {
    case DG_TOK_T5:
        h->pmap = DG_PMAP_SPM, h->join = DG_JOIN_SPM_SPACED, h->frame = DG_FRAME_EOS;
        break;
    case DG_TOK_BART:
        h->pmap = DG_PMAP_VOCAB, h->join = DG_JOIN_BYTES, h->frame = DG_FRAME_BOS_EOS;
        break;
    case DG_TOK_MBART:
        h->pmap = DG_PMAP_FAIRSEQ, h->join = DG_JOIN_REPLACE, h->frame = DG_FRAME_EOS_LANG;
        break;
    case DG_TOK_MBART50:
        h->pmap = DG_PMAP_FAIRSEQ, h->join = DG_JOIN_SPM_SPACED, h->frame = DG_FRAME_LANG_EOS;
        break;
    case DG_TOK_M2M100:
        h->pmap = DG_PMAP_VOCAB, h->join = DG_JOIN_SPM, h->frame = DG_FRAME_LANG_EOS;
        break;
    case DG_TOK_NLLB:
        h->pmap = DG_PMAP_FAIRSEQ, h->join = DG_JOIN_REPLACE;
        h->frame = nllb_legacy ? DG_FRAME_EOS_LANG : DG_FRAME_LANG_EOS;
        break;
    default:
        return dg_err_set(err, DG_E_INTERNAL, "tokenizer kind %d is not a HF slow kind", h->kind);
    }
    return DG_OK;
}

/* HF T5 non-legacy: unk_token_length = len(sp.encode(unk_token)). */
static dg_code count_piece(void *ctx, const char *piece, size_t len, dg_err *err)
{
    (void)piece, (void)len, (void)err;
    (*(int *)ctx)++;
    return DG_OK;
}

static dg_code load(dg_hf *h, load_ctx *c, dg_err *err)
{
    dg_code rc;
    char mpath[PATH_MAX];
    bool extra_given, has_decoder;
    if ((rc = path_in(c->cfg_path, sizeof c->cfg_path, c->dir, "tokenizer_config.json", err)) ||
        (rc = path_in(c->map_path, sizeof c->map_path, c->dir, "special_tokens_map.json", err)) ||
        (rc = path_in(mpath, sizeof mpath, c->dir, "config.json", err)) ||
        (rc = dg_tok_json_optional(c->cfg_path, &c->cfg, err)) ||
        (rc = dg_tok_json_optional(c->map_path, &c->map, err)) ||
        (rc = dg_tok_json_optional(mpath, &c->mcfg, err)) || (rc = read_flags(h, c, err)) ||
        (rc = load_model_files(h, c, err)) || (rc = read_specials(h, c, err)) ||
        (rc = read_extra(h, c, &extra_given, err)) ||
        (rc = read_langs(h, c, extra_given, err)) ||
        (rc = read_added_decoder(h, c, &has_decoder, err)))
        return rc;
    if (!has_decoder && (rc = default_added(h, err)) != DG_OK)
        return rc;
    if ((rc = register_specials(h, c, err)) || (rc = finish_ids(h, c, err)) ||
        (rc = read_default_langs(h, c, err)) || (rc = read_tasks(h, c, err)))
        return rc;
    if (h->kind == DG_TOK_T5 && !h->legacy)
        rc = dg_spm_encode(h->spm, h->sp_str[DG_HS_UNK], strlen(h->sp_str[DG_HS_UNK]),
                           count_piece, &h->unk_len, err);
    return rc;
}

dg_hf *dg_hf_load(const char *dir, dg_tokenizer_kind kind, dg_err *err)
{
    dg_hf *h = calloc(1, sizeof *h);
    if (!h) {
        nomem(err);
        return NULL;
    }
    h->kind = kind;
    load_ctx c = {.dir = dir};
    dg_code rc = load(h, &c, err);
    json_decref(c.cfg);
    json_decref(c.map);
    json_decref(c.mcfg);
    if (rc != DG_OK) {
        dg_hf_free(h);
        return NULL;
    }
    return h;
}

void dg_hf_free(dg_hf *h)
{
    if (!h)
        return;
    dg_spm_free(h->spm);
    dg_bpe_free(h->bpe);
    dg_vocab_free(h->vocab);
    for (int i = 0; i < h->n_added; i++)
        free(h->added[i].s);
    free(h->added);
    free(h->by_byte);
    for (int k = 0; k < DG_HS_N; k++)
        free(h->sp_str[k]);
    for (int i = 0; i < h->n_extra_special; i++)
        free(h->extra_special[i]);
    free(h->extra_special);
    free(h->special_ids);
    for (int i = 0; i < h->n_langs; i++) {
        free(h->langs[i].code);
        free(h->langs[i].token);
    }
    free(h->langs);
    for (int i = 0; i < h->n_tasks; i++)
        free(h->tasks[i].prefix);
    free(h->tasks);
    free(h);
}
