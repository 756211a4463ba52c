/* DESIGN: MarianTokenizer encode/decode (semantics in tokenizer.h, read from transformers 4.40:
 * PreTrainedTokenizer.tokenize + MarianTokenizer._tokenize/remove_language_code on the way in,
 * convert_ids_to_tokens + MarianTokenizer.convert_tokens_to_string + clean_up_tokenization on
 * the way out). Everything here reads the tokenizer and never writes it, so any number of
 * threads may encode and decode on one dg_marian. Work is linear in the input: the
 * language-code regex is matched with a per-line cache instead of Python's backtracking. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/marian_internal.h"
#include "tokenizer/buf.h"
#include "tokenizer/utf8.h"

/* ===== encode ===== */

/* Python's `re.compile(">>.+<<")` tried at byte p: ">>", at least one character, "<<", and `.`
 * never crosses '\n'. Greedy, so a match ends at the last "<<" of p's line. Both the line end
 * and that last "<<" are cached for the line, which keeps a run of ">>>>..." linear. Trying
 * byte by byte is equivalent to Python's code points: '>' and '<' are ASCII, and no byte of a
 * multi-byte UTF-8 character is '\n'. */
typedef struct {
    const char *s;
    size_t len;
    size_t line_end; /* end of the cached line */
    size_t last_end; /* end of its last "<<", 0 when none */
    bool cached;
} code_scan;

/* End of the match at p, or 0. Calls must come with non-decreasing p. */
static size_t code_match(code_scan *c, size_t p)
{
    if (c->len - p < 5 || c->s[p] != '>' || c->s[p + 1] != '>')
        return 0;
    if (!c->cached || p >= c->line_end) {
        const char *nl = memchr(c->s + p, '\n', c->len - p);
        c->line_end = nl ? (size_t)(nl - c->s) : c->len;
        c->last_end = 0;
        for (size_t q = c->line_end; q >= p + 5; q--) {
            if (c->s[q - 2] == '<' && c->s[q - 1] == '<') {
                c->last_end = q;
                break;
            }
        }
        c->cached = true;
    }
    return c->last_end >= p + 5 ? c->last_end : 0;
}

typedef struct {
    const dg_marian *t;
    dg_side side;
    dg_id_buf *out;
} piece_ctx;

/* HF _convert_token_to_id: current_encoder.get(piece, current_encoder[unk_token]). */
static dg_code on_piece(void *ctx, const char *piece, size_t len, dg_err *err)
{
    piece_ctx *c = ctx;
    int id = dg_vocab_find(c->t->vocab[c->side], piece, len);
    return dg_id_push(c->out, id >= 0 ? id : c->t->unk_id[c->side], err);
}

/* MarianTokenizer._tokenize on one segment free of special-token strings: the code token
 * (re.match at the start), then SentencePiece on the text with every match removed (re.sub). */
static dg_code encode_segment(const dg_marian *t, dg_side side, const char *s, size_t len,
                              dg_id_buf *out, dg_err *err)
{
    dg_code rc;
    code_scan scan = {s, len, 0, 0, false};
    size_t code_end = code_match(&scan, 0);
    if (code_end) {
        int id = dg_vocab_find(t->vocab[side], s, code_end);
        if ((rc = dg_id_push(out, id >= 0 ? id : t->unk_id[side], err)) != DG_OK)
            return rc;
    }
    const char *text = s;
    size_t text_len = len;
    char *stripped = NULL;
    if (memmem(s, len, ">>", 2)) {
        if (!(stripped = malloc(len)))
            return dg_err_set(err, DG_E_NOMEM, "out of memory for %zu bytes", len);
        size_t o = 0;
        for (size_t i = 0; i < len;) {
            size_t end = code_match(&scan, i);
            if (end)
                i = end;
            else
                stripped[o++] = s[i++];
        }
        text = stripped;
        text_len = o;
    }
    piece_ctx ctx = {t, side, out};
    rc = dg_spm_encode(t->spm[side], text, text_len, on_piece, &ctx, err);
    free(stripped);
    return rc;
}

/* The leftmost special-token string at or after `from` (the longest when several start
 * there), like HF's added-tokens trie split. Returns its index and sets *at, or -1. */
static int next_special(const dg_marian *t, const char *s, size_t len, size_t from, size_t *at)
{
    for (size_t p = from; p < len; p++) {
        int best = -1;
        for (int k = 0; k < DG_SP_N; k++) {
            size_t kl = t->special_len[k];
            if (kl <= len - p && (best < 0 || kl > t->special_len[best]) &&
                !memcmp(s + p, t->special[k], kl))
                best = k;
        }
        if (best >= 0) {
            *at = p;
            return best;
        }
    }
    return -1;
}

dg_code dg_marian_encode(const dg_marian *t, dg_side side, const char *text, size_t len,
                            int **ids, int *n, dg_err *err)
{
    *ids = NULL;
    *n = 0;
    if (side != DG_SIDE_SOURCE && side != DG_SIDE_TARGET)
        return dg_err_set(err, DG_E_INPUT, "encode: side %d is neither source nor target", side);
    if (!text && len)
        return dg_err_set(err, DG_E_INPUT, "encode: NULL text of %zu bytes", len);
    if (len > DG_TOKENIZER_MAX_INPUT)
        return dg_err_set(err, DG_E_INPUT,
                          "encode: input of %zu bytes exceeds the limit of %d bytes", len,
                          DG_TOKENIZER_MAX_INPUT);
    size_t bad;
    if (!dg_utf8_valid(text, len, &bad))
        return dg_err_set(err, DG_E_INPUT, "encode: invalid UTF-8 at byte offset %zu", bad);
    dg_id_buf out = {0};
    dg_code rc = DG_OK;
    for (size_t p = 0; rc == DG_OK;) {
        size_t at = len;
        int k = next_special(t, text, len, p, &at);
        if (at > p)
            rc = encode_segment(t, side, text + p, at - p, &out, err);
        if (k < 0 || rc != DG_OK)
            break;
        rc = dg_id_push(&out, t->special_id[k], err);
        p = at + t->special_len[k];
    }
    if (rc == DG_OK)
        rc = dg_id_push(&out, t->special_id[DG_SP_EOS], err); /* build_inputs_with_special_tokens */
    if (rc != DG_OK) {
        free(out.v);
        return rc;
    }
    *ids = out.v;
    *n = (int)out.n;
    return DG_OK;
}

/* ===== decode ===== */

static bool is_special_id(const dg_marian *t, int id)
{
    for (int k = 0; k < DG_SP_N; k++)
        if (t->special_id[k] == id)
            return true;
    return false;
}

static bool is_special_string(const dg_marian *t, const char *s)
{
    for (int k = 0; k < DG_SP_N; k++)
        if (!strcmp(s, t->special[k]))
            return true;
    return false;
}

const char *dg_marian_token(const dg_marian *t, dg_side side, int id)
{
    if ((side != DG_SIDE_SOURCE && side != DG_SIDE_TARGET) || id < 0 || id >= t->id_limit[side])
        return NULL;
    /* added tokens come first in HF's convert_ids_to_tokens */
    for (int k = 0; k < DG_SP_N; k++)
        if (t->special_id[k] == id)
            return t->special[k];
    const char *piece = dg_vocab_piece(t->vocab[side], id);
    return piece ? piece : t->special[DG_SP_UNK];
}

/* Python str.replace for a replacement no longer than the pattern, in place. */
static size_t replace_all(char *s, size_t len, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to), r = 0, w = 0;
    while (r < len) {
        if (len - r >= fl && !memcmp(s + r, from, fl)) {
            memcpy(s + w, to, tl);
            w += tl;
            r += fl;
        } else {
            s[w++] = s[r++];
        }
    }
    s[w] = 0;
    return w;
}

/* "▁" -> " ", str.strip(), then clean_up_tokenization when enabled. */
static void finish_text(const dg_marian *t, dg_str_buf *b)
{
    static const char *const cleanup[][2] = {
        {" .", "."},   {" ?", "?"},     {" !", "!"},     {" ,", ","},     {" ' ", "'"},
        {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
    };
    size_t len = replace_all(b->s, b->n, "\xe2\x96\x81", " ");
    size_t start = 0, k;
    while ((k = dg_utf8_space_prefix(b->s + start, len - start)))
        start += k;
    while (len > start && (k = dg_utf8_space_suffix(b->s + start, len - start)))
        len -= k;
    len -= start;
    memmove(b->s, b->s + start, len);
    b->s[len] = 0;
    if (t->cleanup)
        for (size_t i = 0; i < sizeof cleanup / sizeof cleanup[0]; i++)
            len = replace_all(b->s, len, cleanup[i][0], cleanup[i][1]);
    b->n = len;
}

/* Joins the pending pieces with target.spm and appends them. */
static dg_code flush_pieces(const dg_marian *t, const char **pieces, size_t *lens, size_t *np,
                            dg_str_buf *out, dg_err *err)
{
    if (*np == 0)
        return DG_OK;
    char *s;
    size_t slen;
    dg_code rc = dg_spm_decode(t->spm[DG_SIDE_TARGET], pieces, lens, *np, &s, &slen, err);
    if (rc != DG_OK)
        return rc;
    rc = dg_str_append(out, s, slen, err);
    free(s);
    *np = 0;
    return rc;
}

dg_code dg_marian_decode(const dg_marian *t, const int *ids, int n, bool skip_special,
                            char **text, dg_err *err)
{
    *text = NULL;
    if (n < 0 || n > DG_TOKENIZER_MAX_IDS)
        return dg_err_set(err, DG_E_INPUT, "decode: %d ids, outside [0, %d]", n,
                          DG_TOKENIZER_MAX_IDS);
    if (n > 0 && !ids)
        return dg_err_set(err, DG_E_INPUT, "decode: NULL ids");
    const char **pieces = malloc((size_t)(n ? n : 1) * sizeof *pieces);
    size_t *lens = malloc((size_t)(n ? n : 1) * sizeof *lens);
    dg_str_buf out = {0};
    size_t np = 0;
    dg_code rc = DG_OK;
    if (!pieces || !lens)
        rc = dg_err_set(err, DG_E_NOMEM, "decode: out of memory for %d ids", n);
    else
        rc = dg_str_append(&out, "", 0, err);
    for (int i = 0; i < n && rc == DG_OK; i++) {
        int id = ids[i];
        if (id < 0 || id >= t->id_limit[DG_SIDE_TARGET]) {
            rc = dg_err_set(err, DG_E_INPUT,
                            "decode: id %d at position %d is outside the target vocabulary [0, %d)",
                            id, i, t->id_limit[DG_SIDE_TARGET]);
            break;
        }
        if (skip_special && is_special_id(t, id))
            continue;
        const char *tok = dg_marian_token(t, DG_SIDE_TARGET, id);
        /* convert_tokens_to_string tests the string, so a hole read as "<unk>" is special too */
        if (is_special_string(t, tok)) {
            if ((rc = flush_pieces(t, pieces, lens, &np, &out, err)) == DG_OK &&
                (rc = dg_str_append(&out, tok, strlen(tok), err)) == DG_OK)
                rc = dg_str_append(&out, " ", 1, err);
        } else {
            pieces[np] = tok;
            lens[np++] = strlen(tok);
        }
    }
    if (rc == DG_OK)
        rc = flush_pieces(t, pieces, lens, &np, &out, err);
    free(pieces);
    free(lens);
    if (rc != DG_OK) {
        free(out.s);
        return rc;
    }
    finish_text(t, &out);
    *text = out.s;
    return DG_OK;
}

/* ===== accessors ===== */

int dg_marian_vocab_size(const dg_marian *t, dg_side side)
{
    return dg_vocab_size(t->vocab[side == DG_SIDE_TARGET]);
}

int dg_marian_id_limit(const dg_marian *t, dg_side side)
{
    return t->id_limit[side == DG_SIDE_TARGET];
}

int dg_marian_eos_id(const dg_marian *t)
{
    return t->special_id[DG_SP_EOS];
}

int dg_marian_unk_id(const dg_marian *t)
{
    return t->special_id[DG_SP_UNK];
}

int dg_marian_pad_id(const dg_marian *t)
{
    return t->special_id[DG_SP_PAD];
}

int dg_marian_n_lang_codes(const dg_marian *t)
{
    return t->n_codes;
}

const char *dg_marian_lang_code(const dg_marian *t, int i)
{
    if (i < 0 || i >= t->n_codes)
        return NULL;
    return dg_vocab_entry(t->vocab[DG_SIDE_SOURCE], t->codes[i]);
}
