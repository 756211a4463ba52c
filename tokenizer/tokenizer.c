/* DESIGN: the public dg_tokenizer: picks the slow tokenizer class a folder was saved with,
 * forwards encode/decode to it (marian*.c or hf*.c), and keeps the per-side language lists the
 * CLI and the server choose languages from (semantics in tokenizer.h). */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "tokenizer/hf_internal.h"
#include "tokenizer/langs.h"
#include "tokenizer/marian_internal.h"
#include "tokenizer/tok_json.h"
#include "tokenizer/utf8.h"

typedef struct {
    const char *code; /* the model's spelling; owned by the backend */
    char iso[32];
    const char *token; /* ">>deu<<", "__de__", "de_DE" (NULL for T5) */
    int id;            /* the language token's id, or -1 */
    int hf;            /* index into dg_hf.langs, or -1 */
} lang_entry;

struct dg_tokenizer {
    dg_tokenizer_kind kind;
    dg_marian *m;
    dg_hf *h;
    lang_entry *langs[2];
    int n_langs[2];
    int def[2];
};

static const struct {
    const char *name;
    dg_tokenizer_kind kind;
} classes[] = {
    {"MarianTokenizer", DG_TOK_MARIAN}, {"T5Tokenizer", DG_TOK_T5},
    {"BartTokenizer", DG_TOK_BART},     {"MBartTokenizer", DG_TOK_MBART},
    {"MBart50Tokenizer", DG_TOK_MBART50}, {"M2M100Tokenizer", DG_TOK_M2M100},
    {"NllbTokenizer", DG_TOK_NLLB},
};

const char *dg_tokenizer_kind_name(dg_tokenizer_kind kind)
{
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
        if (classes[i].kind == kind)
            return classes[i].name;
    return "?";
}

dg_tokenizer_kind dg_tokenizer_get_kind(const dg_tokenizer *t)
{
    return t->kind;
}

/* ===== detection ===== */

static bool file_in(const char *dir, const char *name)
{
    char p[PATH_MAX];
    if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, name) >= sizeof p)
        return false;
    return access(p, F_OK) == 0;
}

/* tokenizer_class "T5TokenizerFast" names the same files' slow class "T5Tokenizer". */
static int class_kind(const char *name, dg_tokenizer_kind *kind)
{
    size_t n = strlen(name);
    if (n > 4 && !strcmp(name + n - 4, "Fast"))
        n -= 4;
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
        if (strlen(classes[i].name) == n && !strncmp(classes[i].name, name, n)) {
            *kind = classes[i].kind;
            return 0;
        }
    return -1;
}

static const char *const required[][3] = {
    [DG_TOK_MARIAN] = {"source.spm", "target.spm", "vocab.json"},
    [DG_TOK_T5] = {"spiece.model", NULL, NULL},
    [DG_TOK_BART] = {"vocab.json", "merges.txt", NULL},
    [DG_TOK_MBART] = {"sentencepiece.bpe.model", NULL, NULL},
    [DG_TOK_MBART50] = {"sentencepiece.bpe.model", NULL, NULL},
    [DG_TOK_M2M100] = {"sentencepiece.bpe.model", "vocab.json", NULL},
    [DG_TOK_NLLB] = {"sentencepiece.bpe.model", NULL, NULL},
};

static dg_code detect(const char *dir, dg_tokenizer_kind *kind, dg_err *err)
{
    char p[PATH_MAX];
    dg_code rc;
    const char *cls = NULL, *from = NULL;
    json_t *tc = NULL, *mc = NULL;
    if ((size_t)snprintf(p, sizeof p, "%s/tokenizer_config.json", dir) >= sizeof p)
        return dg_err_set(err, DG_E_IO, "%s: path too long", dir);
    if ((rc = dg_tok_json_optional(p, &tc, err)) != DG_OK)
        return rc;
    if (tc && json_is_string(json_object_get(tc, "tokenizer_class"))) {
        cls = json_string_value(json_object_get(tc, "tokenizer_class"));
        from = "tokenizer_config.json";
    }
    snprintf(p, sizeof p, "%s/config.json", dir);
    if ((rc = dg_tok_json_optional(p, &mc, err)) != DG_OK) {
        json_decref(tc);
        return rc;
    }
    if (!cls && mc && json_is_string(json_object_get(mc, "tokenizer_class"))) {
        cls = json_string_value(json_object_get(mc, "tokenizer_class"));
        from = "config.json";
    }
    rc = DG_OK;
    bool known = false;
    if (cls) {
        if (class_kind(cls, kind))
            rc = dg_err_set(err, DG_E_UNSUPPORTED,
                            "%s: %s names tokenizer_class \"%.64s\"; supported: MarianTokenizer, "
                            "T5Tokenizer, BartTokenizer, MBartTokenizer, MBart50Tokenizer, "
                            "M2M100Tokenizer, NllbTokenizer", dir, from, cls);
        known = true;
    } else if (mc && json_is_string(json_object_get(mc, "model_type"))) {
        const char *mt = json_string_value(json_object_get(mc, "model_type"));
        static const struct {
            const char *type;
            dg_tokenizer_kind kind;
        } types[] = {{"marian", DG_TOK_MARIAN}, {"t5", DG_TOK_T5},   {"mt5", DG_TOK_T5},
                     {"bart", DG_TOK_BART},     {"mbart", DG_TOK_MBART}};
        for (size_t i = 0; i < sizeof types / sizeof types[0] && !known; i++)
            if (!strcmp(mt, types[i].type))
                *kind = types[i].kind, known = true;
        /* m2m_100 checkpoints are M2M100 or NLLB: the files decide */
        if (!known && !strcmp(mt, "m2m_100") && file_in(dir, "sentencepiece.bpe.model"))
            *kind = file_in(dir, "vocab.json") ? DG_TOK_M2M100 : DG_TOK_NLLB, known = true;
    }
    json_decref(tc);
    json_decref(mc);
    if (rc != DG_OK)
        return rc;
    if (!known) {
        if (file_in(dir, "source.spm"))
            *kind = DG_TOK_MARIAN;
        else if (file_in(dir, "spiece.model"))
            *kind = DG_TOK_T5;
        else if (file_in(dir, "merges.txt"))
            *kind = DG_TOK_BART;
        else if (file_in(dir, "sentencepiece.bpe.model"))
            *kind = file_in(dir, "vocab.json") ? DG_TOK_M2M100 : DG_TOK_MBART;
        else if (file_in(dir, "tokenizer.json"))
            return dg_err_set(err, DG_E_MISSING,
                              "%s: only tokenizer.json (a fast tokenizer) is present; Dragoman "
                              "reads the slow tokenizer's files (source.spm + target.spm + "
                              "vocab.json, spiece.model, vocab.json + merges.txt, or "
                              "sentencepiece.bpe.model): download them with the checkpoint",
                              dir);
        else
            return dg_err_set(err, DG_E_IO,
                              "%s: no tokenizer files (tokenizer_config.json, source.spm, "
                              "spiece.model, merges.txt or sentencepiece.bpe.model)", dir);
    }
    /* a fast-only download: name the slow files up front (other folders get the loader's
     * message about the first file it cannot read) */
    if (!file_in(dir, "tokenizer.json"))
        return DG_OK;
    char missing[256] = "";
    for (int i = 0; i < 3; i++) {
        const char *f = required[*kind][i];
        if (f && !file_in(dir, f))
            snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s%s",
                     missing[0] ? ", " : "", f);
    }
    if (missing[0])
        return dg_err_set(err, DG_E_MISSING,
                          "%s: %s needs %s, which %s missing (tokenizer.json, the fast "
                          "tokenizer, is not read)", dir, dg_tokenizer_kind_name(*kind), missing,
                          strchr(missing, ',') ? "are" : "is");
    return DG_OK;
}

/* ===== languages ===== */

/* The language part of a model code and its script/region: ">>deu<<" -> "deu", "";
 * "eng_Latn" -> "eng", "Latn"; "de_DE" -> "de", "DE". */
static void split_code(const char *code, char *lang, char *rest, size_t cap)
{
    size_t n = strlen(code);
    if (n >= 4 && !strncmp(code, ">>", 2) && !strcmp(code + n - 2, "<<"))
        code += 2, n -= 4;
    else if (n >= 4 && !strncmp(code, "__", 2) && !strcmp(code + n - 2, "__"))
        code += 2, n -= 4;
    size_t k = 0;
    while (k < n && code[k] != '_' && code[k] != '-')
        k++;
    snprintf(lang, cap, "%.*s", (int)(k < cap ? k : cap - 1), code);
    snprintf(rest, cap, "%.*s", k < n ? (int)(n - k - 1) : 0, k < n ? code + k + 1 : "");
}

static dg_code add_lang(dg_tokenizer *t, int side, const char *code, const char *token, int id,
                        int hf, dg_err *err)
{
    lang_entry *v = realloc(t->langs[side], (size_t)(t->n_langs[side] + 1) * sizeof *v);
    if (!v)
        return dg_err_set(err, DG_E_NOMEM, "out of memory");
    t->langs[side] = v;
    lang_entry *e = &v[t->n_langs[side]];
    *e = (lang_entry){code, "", token, id, hf};
    char lang[32], rest[32];
    split_code(code, lang, rest, sizeof lang);
    const char *iso = strlen(lang) == 2 ? lang : dg_iso1_of(lang);
    if (iso && !strcasecmp(iso, "zh") && !strcasecmp(rest, "Hant"))
        iso = "zt"; /* LibreTranslate's code for Traditional Chinese */
    for (int i = 0; iso && i < t->n_langs[side]; i++)
        if (!strcasecmp(v[i].iso, iso))
            iso = NULL; /* taken by an earlier variant: this one goes by its model code */
    size_t cl = strlen(code);
    if (iso)
        snprintf(e->iso, sizeof e->iso, "%s", iso);
    else if (cl >= 4 && !strncmp(code, ">>", 2) && !strcmp(code + cl - 2, "<<"))
        snprintf(e->iso, sizeof e->iso, "%.*s", (int)(cl - 4), code + 2); /* ">>pob<<" -> "pob" */
    else
        snprintf(e->iso, sizeof e->iso, "%s", code);
    for (int i = 0; i < t->n_langs[side]; i++)
        if (!strcasecmp(v[i].iso, e->iso))
            snprintf(e->iso, sizeof e->iso, "%s", code); /* keep the codes unique */
    t->n_langs[side]++;
    return DG_OK;
}

static bool has_lang(const dg_tokenizer *t, int side, const char *code)
{
    for (int i = 0; i < t->n_langs[side]; i++)
        if (!strcmp(t->langs[side][i].code, code))
            return true;
    return false;
}

static dg_code build_langs(dg_tokenizer *t, dg_err *err)
{
    dg_code rc = DG_OK;
    t->def[0] = t->def[1] = -1;
    if (t->m) {
        for (int i = 0; i < dg_marian_n_lang_codes(t->m) && rc == DG_OK; i++) {
            const char *c = dg_marian_lang_code(t->m, i);
            rc = add_lang(t, DG_SIDE_TARGET, c, c, -1, -1, err);
        }
        return rc;
    }
    dg_hf *h = t->h;
    switch (t->kind) {
    case DG_TOK_T5:
        for (int i = 0; i < h->n_tasks && rc == DG_OK; i++) {
            if (!has_lang(t, DG_SIDE_SOURCE, h->tasks[i].src))
                rc = add_lang(t, DG_SIDE_SOURCE, h->tasks[i].src, NULL, -1, -1, err);
            if (rc == DG_OK && !has_lang(t, DG_SIDE_TARGET, h->tasks[i].tgt))
                rc = add_lang(t, DG_SIDE_TARGET, h->tasks[i].tgt, NULL, -1, -1, err);
        }
        return rc;
    case DG_TOK_MBART: /* an mBART checkpoint translates the one pair it was fine-tuned on */
        if (h->src_lang >= 0)
            rc = add_lang(t, DG_SIDE_SOURCE, h->langs[h->src_lang].code,
                          h->langs[h->src_lang].token, h->langs[h->src_lang].id, h->src_lang, err);
        if (rc == DG_OK && h->tgt_lang >= 0)
            rc = add_lang(t, DG_SIDE_TARGET, h->langs[h->tgt_lang].code,
                          h->langs[h->tgt_lang].token, h->langs[h->tgt_lang].id, h->tgt_lang, err);
        return rc;
    case DG_TOK_MBART50:
    case DG_TOK_M2M100:
    case DG_TOK_NLLB:
        for (int side = 0; side < 2; side++)
            for (int i = 0; i < h->n_langs && rc == DG_OK; i++)
                rc = add_lang(t, side, h->langs[i].code, h->langs[i].token, h->langs[i].id, i,
                              err);
        t->def[DG_SIDE_SOURCE] = h->src_lang;
        t->def[DG_SIDE_TARGET] = h->tgt_lang;
        return rc;
    default:
        return DG_OK;
    }
}

/* ===== load / free ===== */

dg_tokenizer *dg_tokenizer_load(const char *dir, dg_err *err)
{
    dg_tokenizer_kind kind;
    if (detect(dir, &kind, err) != DG_OK)
        return NULL;
    dg_tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        dg_err_set(err, DG_E_NOMEM, "out of memory");
        return NULL;
    }
    t->kind = kind;
    if (kind == DG_TOK_MARIAN)
        t->m = dg_marian_load(dir, err);
    else
        t->h = dg_hf_load(dir, kind, err);
    if ((!t->m && !t->h) || build_langs(t, err) != DG_OK) {
        if (!t->m && !t->h)
            dg_err_prefix(err, "%s (%s)", dir, dg_tokenizer_kind_name(kind));
        dg_tokenizer_free(t);
        return NULL;
    }
    return t;
}

void dg_tokenizer_free(dg_tokenizer *t)
{
    if (!t)
        return;
    dg_marian_free(t->m);
    dg_hf_free(t->h);
    free(t->langs[0]);
    free(t->langs[1]);
    free(t);
}

/* ===== encode / decode ===== */

static dg_code check_text(const char *text, size_t len, dg_err *err)
{
    if (!text && len)
        return dg_err_set(err, DG_E_INPUT, "encode: NULL text of %zu bytes", len);
    if (len > DG_TOKENIZER_MAX_INPUT)
        return dg_err_set(err, DG_E_INPUT,
                          "encode: input of %zu bytes exceeds the limit of %d bytes", len,
                          DG_TOKENIZER_MAX_INPUT);
    size_t bad;
    if (len && !dg_utf8_valid(text, len, &bad))
        return dg_err_set(err, DG_E_INPUT, "encode: invalid UTF-8 at byte offset %zu", bad);
    return DG_OK;
}

dg_code dg_tokenizer_encode(const dg_tokenizer *t, dg_side side, const char *text, size_t len,
                            int **ids, int *n, dg_err *err)
{
    *ids = NULL;
    *n = 0;
    if (t->m)
        return dg_marian_encode(t->m, side, text, len, ids, n, err);
    if (side != DG_SIDE_SOURCE && side != DG_SIDE_TARGET)
        return dg_err_set(err, DG_E_INPUT, "encode: side %d is neither source nor target", side);
    dg_code rc = check_text(text, len, err);
    return rc != DG_OK ? rc : dg_hf_encode(t->h, side, -1, text ? text : "", len, ids, n, err);
}

static const dg_t5_task *t5_task(const dg_tokenizer *t, int src, int tgt)
{
    const char *s = t->langs[DG_SIDE_SOURCE][src].code, *g = t->langs[DG_SIDE_TARGET][tgt].code;
    for (int i = 0; i < t->h->n_tasks; i++)
        if (!strcmp(t->h->tasks[i].src, s) && !strcmp(t->h->tasks[i].tgt, g))
            return &t->h->tasks[i];
    return NULL;
}

static bool valid_index(const dg_tokenizer *t, dg_side side, int i)
{
    return i >= -1 && i < t->n_langs[side];
}

bool dg_tokenizer_pair_ok(const dg_tokenizer *t, int src, int tgt)
{
    if (!valid_index(t, DG_SIDE_SOURCE, src) || !valid_index(t, DG_SIDE_TARGET, tgt))
        return false;
    if (t->kind == DG_TOK_T5 && src >= 0 && tgt >= 0)
        return t5_task(t, src, tgt) != NULL;
    return true;
}

dg_code dg_tokenizer_encode_pair(const dg_tokenizer *t, int src, int tgt, const char *text,
                                 size_t len, int **ids, int *n, dg_err *err)
{
    *ids = NULL;
    *n = 0;
    if (src < 0)
        src = dg_tokenizer_default_lang(t, DG_SIDE_SOURCE);
    if (tgt < 0)
        tgt = dg_tokenizer_default_lang(t, DG_SIDE_TARGET);
    if (!dg_tokenizer_pair_ok(t, src, tgt))
        return dg_err_set(err, DG_E_INPUT, "the model does not translate %s to %s",
                          src >= 0 && src < t->n_langs[0] ? t->langs[0][src].code : "?",
                          tgt >= 0 && tgt < t->n_langs[1] ? t->langs[1][tgt].code : "?");
    dg_code rc = check_text(text, len, err);
    if (rc != DG_OK)
        return rc;
    const char *prefix = NULL;
    if (t->kind == DG_TOK_MARIAN && tgt >= 0)
        prefix = t->langs[DG_SIDE_TARGET][tgt].code;
    else if (t->kind == DG_TOK_T5 && src >= 0 && tgt >= 0)
        prefix = t5_task(t, src, tgt)->prefix;
    if (!prefix) {
        int hl = src >= 0 ? t->langs[DG_SIDE_SOURCE][src].hf : -1;
        return t->m ? dg_marian_encode(t->m, DG_SIDE_SOURCE, text, len, ids, n, err)
                    : dg_hf_encode(t->h, DG_SIDE_SOURCE, hl, text ? text : "", len, ids, n, err);
    }
    /* Marian: ">>por<< text" as HF users write it; T5: "translate English to German: text" */
    bool space = t->kind == DG_TOK_MARIAN;
    size_t pl = strlen(prefix), total = pl + space + len;
    if (total > DG_TOKENIZER_MAX_INPUT)
        return dg_err_set(err, DG_E_INPUT,
                          "encode: input of %zu bytes exceeds the limit of %d bytes", total,
                          DG_TOKENIZER_MAX_INPUT);
    char *buf = malloc(total + 1);
    if (!buf)
        return dg_err_set(err, DG_E_NOMEM, "out of memory for %zu bytes", total);
    memcpy(buf, prefix, pl);
    if (space)
        buf[pl] = ' ';
    if (len)
        memcpy(buf + pl + space, text, len);
    rc = t->m ? dg_marian_encode(t->m, DG_SIDE_SOURCE, buf, total, ids, n, err)
              : dg_hf_encode(t->h, DG_SIDE_SOURCE, -1, buf, total, ids, n, err);
    free(buf);
    return rc;
}

void dg_tokenizer_truncate(const dg_tokenizer *t, int *ids, int *n, int limit)
{
    int tail = t->h && t->h->frame == DG_FRAME_EOS_LANG ? 2 : 1;
    if (*n <= limit || limit < tail)
        return;
    memmove(ids + limit - tail, ids + *n - tail, (size_t)tail * sizeof *ids);
    *n = limit;
}

dg_code dg_tokenizer_decode(const dg_tokenizer *t, const int *ids, int n, bool skip_special,
                            char **text, dg_err *err)
{
    *text = NULL;
    if (t->m)
        return dg_marian_decode(t->m, ids, n, skip_special, text, err);
    if (n < 0 || n > DG_TOKENIZER_MAX_IDS)
        return dg_err_set(err, DG_E_INPUT, "decode: %d ids (limit %d)", n, DG_TOKENIZER_MAX_IDS);
    if (n && !ids)
        return dg_err_set(err, DG_E_INPUT, "decode: NULL ids");
    return dg_hf_decode(t->h, ids, n, skip_special, text, err);
}

const char *dg_tokenizer_token(const dg_tokenizer *t, dg_side side, int id)
{
    if (t->m)
        return dg_marian_token(t->m, side, id);
    if (side != DG_SIDE_SOURCE && side != DG_SIDE_TARGET)
        return NULL;
    size_t len;
    return dg_hf_token(t->h, id, &len);
}

int dg_tokenizer_vocab_size(const dg_tokenizer *t, dg_side side)
{
    return t->m ? dg_marian_vocab_size(t->m, side) : t->h->vocab_size;
}

int dg_tokenizer_id_limit(const dg_tokenizer *t, dg_side side)
{
    return t->m ? dg_marian_id_limit(t->m, side) : t->h->id_limit;
}

int dg_tokenizer_eos_id(const dg_tokenizer *t)
{
    return t->m ? dg_marian_eos_id(t->m) : t->h->sp_id[DG_HS_EOS];
}

int dg_tokenizer_unk_id(const dg_tokenizer *t)
{
    return t->m ? dg_marian_unk_id(t->m) : t->h->sp_id[DG_HS_UNK];
}

int dg_tokenizer_pad_id(const dg_tokenizer *t)
{
    return t->m ? dg_marian_pad_id(t->m) : t->h->sp_id[DG_HS_PAD];
}

/* ===== language API ===== */

int dg_tokenizer_n_langs(const dg_tokenizer *t, dg_side side)
{
    return side == DG_SIDE_SOURCE || side == DG_SIDE_TARGET ? t->n_langs[side] : 0;
}

const char *dg_tokenizer_lang(const dg_tokenizer *t, dg_side side, int i)
{
    if ((side != DG_SIDE_SOURCE && side != DG_SIDE_TARGET) || i < 0 || i >= t->n_langs[side])
        return NULL;
    return t->langs[side][i].code;
}

const char *dg_tokenizer_lang_iso(const dg_tokenizer *t, dg_side side, int i)
{
    if ((side != DG_SIDE_SOURCE && side != DG_SIDE_TARGET) || i < 0 || i >= t->n_langs[side])
        return NULL;
    return t->langs[side][i].iso;
}

int dg_tokenizer_default_lang(const dg_tokenizer *t, dg_side side)
{
    if (side != DG_SIDE_SOURCE && side != DG_SIDE_TARGET)
        return -1;
    if (t->def[side] >= 0)
        return t->def[side];
    return t->n_langs[side] == 1 ? 0 : -1;
}

int dg_tokenizer_forced_bos(const dg_tokenizer *t, int tgt)
{
    if (t->kind != DG_TOK_MBART50 && t->kind != DG_TOK_M2M100 && t->kind != DG_TOK_NLLB)
        return -1;
    if (tgt < 0)
        tgt = dg_tokenizer_default_lang(t, DG_SIDE_TARGET);
    return tgt >= 0 && tgt < t->n_langs[DG_SIDE_TARGET] ? t->langs[DG_SIDE_TARGET][tgt].id : -1;
}

dg_code dg_tokenizer_find_lang(const dg_tokenizer *t, dg_side side, const char *req, int *out,
                               dg_err *err)
{
    *out = -1;
    const char *what = side == DG_SIDE_TARGET ? "target" : "source";
    if (side != DG_SIDE_SOURCE && side != DG_SIDE_TARGET)
        return dg_err_set(err, DG_E_INPUT, "language side %d is neither source nor target", side);
    if (!req || !*req || strlen(req) > 31)
        return dg_err_set(err, DG_E_INPUT, "%s language \"%.40s\" is not a language code", what,
                          req ? req : "");
    const lang_entry *v = t->langs[side];
    int n = t->n_langs[side];
    for (int i = 0; i < n; i++)
        if (!strcasecmp(req, v[i].code) || !strcasecmp(req, v[i].iso) ||
            (v[i].token && !strcasecmp(req, v[i].token))) {
            *out = i;
            return DG_OK;
        }
    char lang[32], rest[32];
    split_code(req, lang, rest, sizeof lang);
    if (!strcasecmp(lang, "zt"))
        snprintf(lang, sizeof lang, "zh"), snprintf(rest, sizeof rest, "Hant");
    const char *alt = NULL, *other = strlen(lang) == 2 ? dg_iso3_of(lang, &alt)
                                                       : dg_iso1_of(lang);
    int first = -1;
    for (int i = 0; i < n; i++) {
        char l[32], r[32];
        split_code(v[i].code, l, r, sizeof l);
        if (strcasecmp(l, lang) && !(other && !strcasecmp(l, other)) &&
            !(alt && !strcasecmp(l, alt)))
            continue;
        if (rest[0] && !strcasecmp(r, rest)) {
            *out = i;
            return DG_OK;
        }
        if (first < 0)
            first = i;
    }
    if (first >= 0) {
        *out = first;
        return DG_OK;
    }
    if (!n)
        return dg_err_set(err, DG_E_INPUT,
                          "%s language \"%s\": this model (%s) has no %s languages to choose from",
                          what, req, dg_tokenizer_kind_name(t->kind), what);
    char list[360] = "";
    int shown = 0;
    for (int i = 0; i < n; i++) {
        size_t used = strlen(list);
        if (used + strlen(v[i].iso) + 8 >= sizeof list)
            break;
        snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", v[i].iso);
        shown++;
    }
    return dg_err_set(err, DG_E_INPUT, "%s language \"%s\" is not supported by this model; "
                      "available: %s%s (%d in all)", what, req, list,
                      shown < n ? ", ..." : "", n);
}
