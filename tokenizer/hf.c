/* DESIGN: encode and decode for the dg_hf kinds, read from transformers 4.40:
 * PreTrainedTokenizer.tokenize (Trie.split on the added tokens, lstrip/rstrip, _tokenize per
 * segment), T5Tokenizer.tokenize/_tokenize (non-legacy), build_inputs_with_special_tokens per
 * class on the way in; PreTrainedTokenizer._decode (convert_ids_to_tokens, legacy added tokens
 * as their own runs, " ".join, clean_up_tokenization) and each class's convert_tokens_to_string
 * on the way out. Nothing here writes the dg_hf except the BPE cache, which locks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/hf_internal.h"
#include "tokenizer/buf.h"
#include "tokenizer/utf8.h"

#define SPIECE_UNDERLINE "\xe2\x96\x81" /* "▁" */

/* ===== ids and tokens ===== */

static const dg_added *added_by_id(const dg_hf *h, int id)
{
    int lo = 0, hi = h->n_added - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (h->added[mid].id == id)
            return &h->added[mid];
        if (h->added[mid].id < id)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

bool dg_hf_is_special_id(const dg_hf *h, int id)
{
    return bsearch(&id, h->special_ids, (size_t)h->n_special_ids, sizeof(int), cmp_int) != NULL;
}

const char *dg_hf_token(const dg_hf *h, int id, size_t *len)
{
    if (id < 0 || id >= h->id_limit)
        return NULL;
    const dg_added *a = added_by_id(h, id);
    if (a) {
        *len = a->len;
        return a->s;
    }
    switch (h->pmap) {
    case DG_PMAP_SPM:
        return dg_spm_id_to_piece(h->spm, id, len);
    case DG_PMAP_FAIRSEQ:
        return id >= 1 ? dg_spm_id_to_piece(h->spm, id - 1, len) : NULL;
    case DG_PMAP_VOCAB:
    default: {
        const char *p = dg_vocab_piece(h->vocab, id);
        if (!p && h->kind == DG_TOK_M2M100)
            p = h->sp_str[DG_HS_UNK]; /* decoder.get(index, unk_token) */
        if (p)
            *len = strlen(p);
        return p;
    }
    }
}

static int piece_id(const dg_hf *h, const char *s, size_t len)
{
    switch (h->pmap) {
    case DG_PMAP_SPM:
        return dg_spm_piece_to_id(h->spm, s, len);
    case DG_PMAP_FAIRSEQ: {
        int id = dg_spm_piece_to_id(h->spm, s, len);
        return id > 0 ? id + 1 : h->sp_id[DG_HS_UNK];
    }
    case DG_PMAP_VOCAB:
    default: {
        int id = dg_vocab_find(h->vocab, s, len);
        return id >= 0 ? id : h->sp_id[DG_HS_UNK];
    }
    }
}

/* ===== encode ===== */

typedef struct {
    size_t start, len;
    int added; /* index into h->added, or -1 for text */
} segment;

typedef struct {
    segment *v;
    size_t n, cap;
} seg_buf;

static dg_code seg_push(seg_buf *b, size_t start, size_t len, int added, dg_err *err)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 16;
        segment *v = realloc(b->v, cap * sizeof *v);
        if (!v)
            return dg_err_set(err, DG_E_NOMEM, "out of memory splitting the text");
        b->v = v;
        b->cap = cap;
    }
    b->v[b->n++] = (segment){start, len, added};
    return DG_OK;
}

/* Trie.split: at the leftmost position where an added token matches, the longest one there.
 * Added tokens start with a UTF-8 lead byte, so byte positions match Python's characters. */
static dg_code split_added(const dg_hf *h, const char *s, size_t len, seg_buf *out, dg_err *err)
{
    size_t from = 0;
    dg_code rc;
    for (size_t p = 0; p < len; p++) {
        unsigned char b = (unsigned char)s[p];
        int best = -1;
        for (int j = h->first_by_byte[b]; j < h->first_by_byte[b + 1]; j++) {
            const dg_added *a = &h->added[h->by_byte[j]];
            if (a->len <= len - p && (best < 0 || a->len > h->added[best].len) &&
                !memcmp(s + p, a->s, a->len))
                best = h->by_byte[j];
        }
        if (best < 0)
            continue;
        if (p > from && (rc = seg_push(out, from, p - from, -1, err)) != DG_OK)
            return rc;
        if ((rc = seg_push(out, p, h->added[best].len, best, err)) != DG_OK)
            return rc;
        from = p + h->added[best].len;
        p = from - 1;
    }
    if (len > from)
        return seg_push(out, from, len - from, -1, err);
    return DG_OK;
}

/* The lstrip/rstrip of added tokens eat the whitespace of the text next to them. */
static void strip_around(const dg_hf *h, const char *s, seg_buf *segs)
{
    for (size_t i = 0; i < segs->n; i++) {
        if (segs->v[i].added < 0)
            continue;
        const dg_added *a = &h->added[segs->v[i].added];
        segment *r = i + 1 < segs->n ? &segs->v[i + 1] : NULL;
        segment *l = i > 0 ? &segs->v[i - 1] : NULL;
        if (a->rstrip && r && r->added < 0) {
            size_t k;
            while ((k = dg_utf8_space_prefix(s + r->start, r->len)) > 0)
                r->start += k, r->len -= k;
        }
        if (a->lstrip && l && l->added < 0) {
            size_t k;
            while ((k = dg_utf8_space_suffix(s + l->start, l->len)) > 0)
                l->len -= k;
        }
    }
}

typedef struct {
    const dg_hf *h;
    dg_id_buf *out;
    int skip;           /* pieces still to drop (T5 non-legacy unk prefix) */
    bool *first_is_spc; /* set when the very first token is the text piece "▁" */
} piece_ctx;

static dg_code on_piece(void *ctx, const char *piece, size_t len, dg_err *err)
{
    piece_ctx *c = ctx;
    if (c->skip > 0) {
        c->skip--;
        return DG_OK;
    }
    if (c->out->n == 0 && c->first_is_spc)
        *c->first_is_spc = len == 3 && !memcmp(piece, SPIECE_UNDERLINE, 3);
    return dg_id_push(c->out, piece_id(c->h, piece, len), err);
}


/* dg_bpe_encode's id callback */
static dg_code push_id(void *ids, int id, dg_err *err)
{
    return dg_id_push(ids, id, err);
}

static dg_code tokenize_text(const dg_hf *h, const char *s, size_t len, dg_id_buf *out,
                             bool *first_is_spc, dg_err *err)
{
    if (h->bpe)
        return dg_bpe_encode(h->bpe, s, len, h->sp_id[DG_HS_UNK], push_id, out, err);
    piece_ctx c = {h, out, 0, first_is_spc};
    if (h->kind != DG_TOK_T5 || h->legacy ||
        !(len && (s[0] == ' ' || (len >= 3 && !memcmp(s, SPIECE_UNDERLINE, 3)))))
        return dg_spm_encode(h->spm, s, len, on_piece, &c, err);
    /* T5 non-legacy: encode unk_token + text and drop the unk pieces, so that the model (loaded
     * without the dummy prefix) keeps the text's leading space */
    size_t ul = strlen(h->sp_str[DG_HS_UNK]);
    char *buf = malloc(ul + len);
    if (!buf)
        return dg_err_set(err, DG_E_NOMEM, "out of memory for %zu bytes", ul + len);
    memcpy(buf, h->sp_str[DG_HS_UNK], ul);
    memcpy(buf + ul, s, len);
    c.skip = h->unk_len; /* tokens[unk_token_length:] */
    dg_code rc = dg_spm_encode(h->spm, buf, ul + len, on_piece, &c, err);
    free(buf);
    return rc;
}

static int lang_id(const dg_hf *h, dg_side side, int lang)
{
    if (lang < 0)
        lang = side == DG_SIDE_TARGET ? h->tgt_lang : h->src_lang;
    return lang >= 0 && lang < h->n_langs ? h->langs[lang].id : -1;
}

/* T5 non-legacy preprocessing of the whole text: "▁" -> " ", then the "▁" prefix. */
static char *t5_prepare(const dg_hf *h, const char *text, size_t len, size_t *out_len)
{
    char *w = malloc(len + 4);
    if (!w)
        return NULL;
    size_t o = 0;
    if (h->prefix_space) {
        memcpy(w, SPIECE_UNDERLINE, 3);
        o = 3;
    }
    for (size_t i = 0; i < len;) {
        if (len - i >= 3 && !memcmp(text + i, SPIECE_UNDERLINE, 3)) {
            w[o++] = ' ';
            i += 3;
        } else {
            w[o++] = text[i++];
        }
    }
    *out_len = o;
    return w;
}

static dg_code frame(const dg_hf *h, dg_side side, int lang, dg_id_buf *body, dg_id_buf *out,
                     dg_err *err)
{
    dg_code rc = DG_OK;
    int eos = h->sp_id[DG_HS_EOS];
    int lid = -1;
    if (h->frame == DG_FRAME_EOS_LANG || h->frame == DG_FRAME_LANG_EOS) {
        if ((lid = lang_id(h, side, lang)) < 0)
            return dg_err_set(err, DG_E_INPUT, "encode: %s needs a %s language (none given and "
                              "tokenizer_config.json sets none)", dg_tokenizer_kind_name(h->kind),
                              side == DG_SIDE_TARGET ? "target" : "source");
    }
    switch (h->frame) {
    case DG_FRAME_BOS_EOS:
        rc = dg_id_push(out, h->sp_id[DG_HS_CLS] >= 0 ? h->sp_id[DG_HS_CLS] : h->sp_id[DG_HS_BOS],
                     err);
        break;
    case DG_FRAME_LANG_EOS:
        rc = dg_id_push(out, lid, err);
        break;
    default:
        break;
    }
    for (size_t i = 0; rc == DG_OK && i < body->n; i++)
        rc = dg_id_push(out, body->v[i], err);
    if (rc != DG_OK)
        return rc;
    switch (h->frame) {
    case DG_FRAME_EOS: /* _add_eos_if_not_present */
        return body->n && body->v[body->n - 1] == eos ? DG_OK : dg_id_push(out, eos, err);
    case DG_FRAME_BOS_EOS:
        return dg_id_push(out, h->sp_id[DG_HS_SEP] >= 0 ? h->sp_id[DG_HS_SEP] : eos, err);
    case DG_FRAME_EOS_LANG:
        return (rc = dg_id_push(out, eos, err)) != DG_OK ? rc : dg_id_push(out, lid, err);
    case DG_FRAME_LANG_EOS:
    default:
        return dg_id_push(out, eos, err);
    }
}

dg_code dg_hf_encode(const dg_hf *h, dg_side side, int lang, const char *text, size_t len,
                     int **ids, int *n, dg_err *err)
{
    *ids = NULL;
    *n = 0;
    char *work = NULL;
    const char *s = text;
    size_t sl = len;
    if (h->kind == DG_TOK_T5 && !h->legacy && len) {
        if (!(work = t5_prepare(h, text, len, &sl)))
            return dg_err_set(err, DG_E_NOMEM, "out of memory for %zu bytes", len);
        s = work;
    } else if (h->bpe && h->prefix_space && len && !dg_utf8_space_prefix(text, len)) {
        if (!(work = malloc(len + 1)))
            return dg_err_set(err, DG_E_NOMEM, "out of memory for %zu bytes", len);
        work[0] = ' ';
        memcpy(work + 1, text, len);
        s = work;
        sl = len + 1;
    }
    seg_buf segs = {0};
    dg_id_buf body = {0}, out = {0};
    bool first_is_spc = false;
    dg_code rc = split_added(h, s, sl, &segs, err);
    if (rc == DG_OK)
        strip_around(h, s, &segs);
    for (size_t i = 0; rc == DG_OK && i < segs.n; i++) {
        const segment *g = &segs.v[i];
        if (g->added >= 0)
            rc = dg_id_push(&body, h->added[g->added].id, err);
        else if (g->len)
            rc = tokenize_text(h, s + g->start, g->len, &body, &first_is_spc, err);
    }
    /* T5 non-legacy: a lone leading "▁" before a special token is dropped */
    if (rc == DG_OK && h->kind == DG_TOK_T5 && !h->legacy && first_is_spc && body.n > 1 &&
        dg_hf_is_special_id(h, body.v[1])) {
        memmove(body.v, body.v + 1, (body.n - 1) * sizeof *body.v);
        body.n--;
    }
    if (rc == DG_OK)
        rc = frame(h, side, lang, &body, &out, err);
    free(segs.v);
    free(body.v);
    free(work);
    if (rc != DG_OK) {
        free(out.v);
        return rc;
    }
    *ids = out.v;
    *n = (int)out.n;
    return DG_OK;
}

/* ===== decode ===== */

static bool is_special_str(const dg_hf *h, const char *s, size_t len)
{
    for (int k = 0; k < DG_HS_N; k++)
        if (h->sp_str[k] && strlen(h->sp_str[k]) == len && !memcmp(h->sp_str[k], s, len))
            return true;
    for (int i = 0; i < h->n_extra_special; i++)
        if (strlen(h->extra_special[i]) == len && !memcmp(h->extra_special[i], s, len))
            return true;
    return false;
}

/* Python str.strip() of b in place. */
static void strip_buf(dg_str_buf *b)
{
    size_t k, start = 0;
    while ((k = dg_utf8_space_prefix(b->s + start, b->n - start)) > 0)
        start += k;
    size_t end = b->n;
    while (end > start && (k = dg_utf8_space_suffix(b->s + start, end - start)) > 0)
        end -= k;
    memmove(b->s, b->s + start, end - start);
    b->n = end - start;
    b->s[b->n] = 0;
}

typedef struct {
    const char *s;
    size_t len;
} tok_ref;

static dg_code spm_run(const dg_hf *h, const tok_ref *t, size_t n, dg_str_buf *out, dg_err *err)
{
    if (!n)
        return DG_OK;
    const char **p = malloc(n * sizeof *p);
    size_t *l = malloc(n * sizeof *l);
    dg_code rc;
    if (!p || !l) {
        rc = dg_err_set(err, DG_E_NOMEM, "out of memory decoding %zu pieces", n);
    } else {
        for (size_t i = 0; i < n; i++)
            p[i] = t[i].s, l[i] = t[i].len;
        char *txt;
        size_t tl;
        rc = dg_spm_decode(h->spm, p, l, n, &txt, &tl, err);
        if (rc == DG_OK) {
            rc = dg_str_append(out, txt, tl, err);
            free(txt);
        }
    }
    free(p);
    free(l);
    return rc;
}

/* convert_tokens_to_string of one run of tokens. */
static dg_code tokens_to_string(const dg_hf *h, tok_ref *t, size_t n, dg_str_buf *out, dg_err *err)
{
    dg_code rc = DG_OK;
    out->n = 0;
    if ((rc = dg_str_append(out, "", 0, err)) != DG_OK)
        return rc;
    if (h->join == DG_JOIN_REPLACE) {
        for (size_t i = 0; rc == DG_OK && i < n; i++)
            for (size_t j = 0; rc == DG_OK && j < t[i].len;) {
                if (t[i].len - j >= 3 && !memcmp(t[i].s + j, SPIECE_UNDERLINE, 3)) {
                    rc = dg_str_append(out, " ", 1, err);
                    j += 3;
                } else {
                    size_t k = j;
                    while (k < t[i].len &&
                           !(t[i].len - k >= 3 && !memcmp(t[i].s + k, SPIECE_UNDERLINE, 3)))
                        k++;
                    rc = dg_str_append(out, t[i].s + j, k - j, err);
                    j = k;
                }
            }
        if (rc == DG_OK)
            strip_buf(out);
        return rc;
    }
    if (h->join == DG_JOIN_BYTES) {
        char *raw = NULL;
        size_t rn = 0, cap = 0;
        for (size_t i = 0; rc == DG_OK && i < n; i++)
            rc = dg_bpe_piece_bytes(h->bpe, t[i].s, t[i].len, &raw, &rn, &cap, err);
        if (rc == DG_OK) {
            size_t ol;
            char *txt = dg_utf8_replace_invalid(raw ? raw : "", rn, &ol);
            if (!txt)
                rc = dg_err_set(err, DG_E_NOMEM, "out of memory decoding bytes");
            else
                rc = dg_str_append(out, txt, ol, err);
            free(txt);
        }
        free(raw);
        return rc;
    }
    /* SentencePiece runs between special tokens */
    if (h->kind == DG_TOK_T5 && h->prefix_space && n && t[0].len >= 3 &&
        !memcmp(t[0].s, SPIECE_UNDERLINE, 3)) {
        t[0].s += 3; /* the prefix space added when encoding */
        t[0].len -= 3;
    }
    size_t run = 0;
    bool prev_special = false;
    for (size_t i = 0; rc == DG_OK && i < n; i++) {
        if (!is_special_str(h, t[i].s, t[i].len)) {
            prev_special = false;
            continue;
        }
        if (h->join == DG_JOIN_SPM_SPACED && !prev_special)
            rc = dg_str_append(out, " ", 1, err);
        if (rc == DG_OK)
            rc = spm_run(h, t + run, i - run, out, err);
        if (rc == DG_OK)
            rc = dg_str_append(out, t[i].s, t[i].len, err);
        prev_special = true;
        run = i + 1;
    }
    if (rc == DG_OK)
        rc = spm_run(h, t + run, n - run, out, err);
    if (rc == DG_OK)
        strip_buf(out);
    return rc;
}

/* clean_up_tokenization, in HF's order. */
static void cleanup(dg_str_buf *b)
{
    static const char *const from[] = {" .", " ?", " !", " ,", " ' ", " n't", " 'm", " 's",
                                       " 've", " 're"};
    static const char *const to[] = {".", "?", "!", ",", "'", "n't", "'m", "'s", "'ve", "'re"};
    for (size_t r = 0; r < sizeof from / sizeof from[0]; r++) {
        size_t fl = strlen(from[r]), tl = strlen(to[r]), o = 0;
        for (size_t i = 0; i < b->n;) {
            if (b->n - i >= fl && !memcmp(b->s + i, from[r], fl)) {
                memcpy(b->s + o, to[r], tl);
                o += tl;
                i += fl;
            } else {
                b->s[o++] = b->s[i++];
            }
        }
        b->n = o;
        b->s[o] = 0;
    }
}

/* _decode's legacy_added_tokens: added tokens that are not special, and additional special
 * tokens at or past vocab_size; each becomes its own run. */
static bool legacy_added(const dg_hf *h, int id, const char *s, size_t len)
{
    if (!added_by_id(h, id))
        return false;
    if (!is_special_str(h, s, len))
        return true;
    if (id < h->vocab_size)
        return false;
    for (int i = 0; i < h->n_extra_special; i++)
        if (strlen(h->extra_special[i]) == len && !memcmp(h->extra_special[i], s, len))
            return true;
    return false;
}

dg_code dg_hf_decode(const dg_hf *h, const int *ids, int n, bool skip_special, char **text,
                     dg_err *err)
{
    *text = NULL;
    tok_ref *toks = malloc((size_t)(n ? n : 1) * sizeof *toks);
    if (!toks)
        return dg_err_set(err, DG_E_NOMEM, "out of memory decoding %d ids", n);
    size_t nt = 0;
    for (int i = 0; i < n; i++) {
        if (skip_special && dg_hf_is_special_id(h, ids[i]))
            continue;
        size_t len = 0;
        const char *s = dg_hf_token(h, ids[i], &len);
        if (!s) {
            free(toks);
            return dg_err_set(err, DG_E_INPUT,
                              "decode: id %d at position %d is outside the vocabulary (0..%d)",
                              ids[i], i, h->id_limit - 1);
        }
        toks[nt++] = (tok_ref){s, len};
    }
    dg_str_buf out = {0}, sub = {0};
    dg_code rc = dg_str_append(&out, "", 0, err);
    size_t run = 0;
    bool any = false;
    /* legacy added tokens cut the runs; ids are needed again to tell them apart */
    size_t ti = 0;
    for (int i = 0; rc == DG_OK && i < n; i++) {
        if (skip_special && dg_hf_is_special_id(h, ids[i]))
            continue;
        if (legacy_added(h, ids[i], toks[ti].s, toks[ti].len)) {
            if (ti > run) {
                rc = tokens_to_string(h, toks + run, ti - run, &sub, err);
                if (rc == DG_OK && sub.n) {
                    rc = dg_str_append(&out, " ", any, err);
                    if (rc == DG_OK)
                        rc = dg_str_append(&out, sub.s, sub.n, err);
                    any = true;
                }
            }
            if (rc == DG_OK)
                rc = dg_str_append(&out, " ", any, err);
            if (rc == DG_OK)
                rc = dg_str_append(&out, toks[ti].s, toks[ti].len, err);
            any = true;
            run = ti + 1;
        }
        ti++;
    }
    if (rc == DG_OK && nt > run) {
        rc = tokens_to_string(h, toks + run, nt - run, &sub, err);
        if (rc == DG_OK)
            rc = dg_str_append(&out, " ", any, err);
        if (rc == DG_OK)
            rc = dg_str_append(&out, sub.s, sub.n, err);
    }
    free(sub.s);
    free(toks);
    if (rc != DG_OK) {
        free(out.s);
        return rc;
    }
    if (h->cleanup)
        cleanup(&out);
    *text = out.s;
    return DG_OK;
}
