/* Model loading: config + checkpoint + architecture binding, then the one-time packing of
 * weights into the layouts the forward pass wants (see model.h), the sinusoidal position table,
 * and the generation defaults.
 *
 * DESIGN. Everything computed here is computed once and then only read, so a dg_model can be
 * shared by any number of worker threads without locks. Tensors that need no re-layout are used
 * in place (views into the checkpoint mapping). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model.h"

void dg_positions_marian(float *table, int P, int D)
{
    /* HF MarianSinusoidalPositionalEmbedding: column j has angle pos / 10000^(2*(j//2)/D); even
     * columns' sines fill the first ceil(D/2) outputs, odd columns' cosines the rest. */
    int half = (D + 1) / 2;
    for (int p = 0; p < P; p++) {
        float *row = table + (size_t)p * D;
        for (int j = 0; j < D; j++) {
            double angle = p / pow(10000.0, (double)(2 * (j / 2)) / D);
            if (j % 2 == 0)
                row[j / 2] = (float)sin(angle);
            else
                row[half + j / 2] = (float)cos(angle);
        }
    }
}

void dg_embed(const dg_model *m, const float *embed, const int *ids, const int *pos, int n,
              float *x)
{
    int D = m->D;
    for (int i = 0; i < n; i++) {
        const float *e = embed + (size_t)ids[i] * D;
        const float *pe = m->pos + (size_t)pos[i] * D;
        float *xr = x + (size_t)i * D;
        for (int j = 0; j < D; j++)
            xr[j] = e[j] * m->embed_scale + pe[j];
    }
}

/* Copies W [rows, D] (scaled) into dst and b [rows] (scaled, zeros when absent) into bdst. */
static void copy_linear(const dg_linear *l, int rows, int D, float scale, float *dst, float *bdst)
{
    for (size_t i = 0; i < (size_t)rows * D; i++)
        dst[i] = l->w[i] * scale;
    for (int i = 0; i < rows; i++)
        bdst[i] = l->b ? l->b[i] * scale : 0.0f;
}

/* Packs n linears of [rows, D] each (scale[i] applied to the i-th) stacked into one matrix, then
 * lets the checkpoint drop their file pages (the packed copy is the one used from now on). */
static dg_code pack_stacked(dg_matrix *W, const dg_linear *const *l, const float *scale, int n,
                            int rows, int D, dg_wtype wt, dg_checkpoint *ck, dg_err *err)
{
    /* calloc: large blocks come zeroed from mmap at no cost, and gcc -O2 with ASan cannot see
     * that the loop below writes every element before dg_matrix_pack reads them */
    float *w = calloc((size_t)n * rows * D, sizeof(float));
    float *b = calloc((size_t)n * rows, sizeof(float));
    dg_code rc = DG_E_NOMEM;
    if (!w || !b) {
        dg_err_set(err, DG_E_NOMEM, "model: out of memory packing layer weights");
    } else {
        for (int i = 0; i < n; i++)
            copy_linear(l[i], rows, D, scale[i], w + (size_t)i * rows * D, b + (size_t)i * rows);
        rc = dg_matrix_pack(W, w, b, n * rows, D, wt, err);
        for (int i = 0; i < n && !rc; i++)
            dg_checkpoint_release(ck, l[i]->w, (size_t)rows * D);
    }
    free(w);
    free(b);
    return rc;
}

/* Packs W = l ([rows, K]) and lets the checkpoint drop its file pages. */
static dg_code pack_one(dg_matrix *W, const dg_linear *l, int rows, int K, dg_wtype wt,
                        dg_checkpoint *ck, dg_err *err)
{
    if (dg_matrix_pack(W, l->w, l->b, rows, K, wt, err))
        return err ? err->code : DG_E_NOMEM;
    dg_checkpoint_release(ck, l->w, (size_t)rows * K);
    return DG_OK;
}

static dg_code pack_layer(dg_layer *L, const dg_layer_weights *w, int D, int F, int dh,
                          bool decoder, dg_wtype wt, dg_checkpoint *ck, dg_err *err)
{
    float s = 1.0f / sqrtf((float)dh);
    const dg_linear *qkv[3] = {&w->q, &w->k, &w->v}, *cq[1] = {&w->cq};
    if (pack_stacked(&L->qkv, qkv, (float[]){s, 1.0f, 1.0f}, 3, D, D, wt, ck, err) ||
        pack_one(&L->o, &w->o, D, D, wt, ck, err) || pack_one(&L->fc1, &w->fc1, F, D, wt, ck, err) ||
        pack_one(&L->fc2, &w->fc2, D, F, wt, ck, err))
        return err ? err->code : DG_E_NOMEM;
    L->ln_attn = w->self_attn_ln;
    if (decoder) {
        if (pack_stacked(&L->cq, cq, &s, 1, D, D, wt, ck, err) ||
            pack_one(&L->co, &w->co, D, D, wt, ck, err))
            return err ? err->code : DG_E_NOMEM;
        L->ln_cross = w->cross_attn_ln;
    }
    L->ln_ffn = w->final_ln;
    return DG_OK;
}

static dg_code check_dims(const dg_config *c, dg_err *err)
{
    if (c->d_model <= 0 || c->encoder_heads <= 0 || c->decoder_heads <= 0 ||
        c->d_model % c->encoder_heads || c->d_model % c->decoder_heads)
        return dg_err_set(err, DG_E_CONFIG, "d_model %d is not a positive multiple of the heads "
                          "(%d encoder, %d decoder)", c->d_model, c->encoder_heads, c->decoder_heads);
    if (c->max_position_embeddings <= 0 || c->vocab_size <= 0 || c->target_vocab_size <= 0 ||
        c->encoder_ffn_dim <= 0 || c->decoder_ffn_dim <= 0 || c->encoder_layers < 0 ||
        c->decoder_layers < 1)
        return dg_err_set(err, DG_E_CONFIG, "config: non-positive dimension (positions %d, vocab "
                          "%d/%d, ffn %d/%d, layers %d/%d)", c->max_position_embeddings,
                          c->vocab_size, c->target_vocab_size, c->encoder_ffn_dim,
                          c->decoder_ffn_dim, c->encoder_layers, c->decoder_layers);
    int Vt = c->target_vocab_size;
    if (c->eos_token_id < 0 || c->eos_token_id >= Vt || c->decoder_start_token_id < 0 ||
        c->decoder_start_token_id >= Vt)
        return dg_err_set(err, DG_E_CONFIG, "eos_token_id %d / decoder_start_token_id %d outside "
                          "the target vocabulary (%d)", c->eos_token_id,
                          c->decoder_start_token_id, Vt);
    return DG_OK;
}

static dg_code pack_model(dg_model *m, dg_err *err)
{
    const dg_model_weights *w = &m->w;
    int D = m->D;
    m->pos = malloc((size_t)m->P * D * sizeof(float));
    m->enc = calloc(m->Le ? m->Le : 1, sizeof *m->enc);
    m->dec = calloc(m->Ld, sizeof *m->dec);
    const dg_linear **ckv = calloc((size_t)2 * m->Ld, sizeof *ckv);
    float *ones = malloc((size_t)2 * m->Ld * sizeof *ones);
    if (!m->pos || !m->enc || !m->dec || !ckv || !ones) {
        free(ckv);
        free(ones);
        return dg_err_set(err, DG_E_NOMEM, "model: out of memory packing weights");
    }
    /* one case per dg_pos_kind: -Wswitch (with -Werror) fails the build for a kind the
     * engine cannot compute, rather than a run-time check */
    switch (m->q.positions) {
    case DG_POS_SINUSOIDAL_MARIAN: dg_positions_marian(m->pos, m->P, D); break;
    }
    dg_code rc = DG_OK;
    for (int l = 0; l < m->Le && !rc; l++)
        rc = pack_layer(&m->enc[l], &w->enc_layers[l], D, m->Fe, D / m->He, false, m->wtype,
                        m->ck, err);
    for (int l = 0; l < m->Ld && !rc; l++) {
        rc = pack_layer(&m->dec[l], &w->dec_layers[l], D, m->Fd, D / m->Hd, true, m->wtype,
                        m->ck, err);
        ckv[2 * l] = &w->dec_layers[l].ck;
        ckv[2 * l + 1] = &w->dec_layers[l].cv;
        ones[2 * l] = ones[2 * l + 1] = 1.0f;
    }
    if (!rc)
        rc = pack_stacked(&m->cross_kv, ckv, ones, 2 * m->Ld, D, D, m->wtype, m->ck, err);
    /* a tied LM head is also the embedding table, whose rows the forward pass still reads */
    bool tied = w->lm_head == w->dec_embed || w->lm_head == w->enc_embed;
    dg_linear head = {w->lm_head, w->final_logits_bias};
    if (!rc)
        rc = pack_one(&m->lm_head, &head, m->Vt, D, m->wtype, tied ? NULL : m->ck, err);
    free(ckv);
    free(ones);
    return rc;
}

dg_code dg_model_pack(dg_model *m, dg_err *err)
{
    const dg_config *c = &m->cfg;
    if (check_dims(c, err))
        return err ? err->code : DG_E_CONFIG;
    m->q = m->w.quirks;
    m->D = c->d_model;
    m->He = c->encoder_heads;
    m->Hd = c->decoder_heads;
    m->Fe = c->encoder_ffn_dim;
    m->Fd = c->decoder_ffn_dim;
    m->Vs = c->vocab_size;
    m->Vt = c->target_vocab_size;
    m->P = c->max_position_embeddings;
    m->Le = m->w.n_enc_layers;
    m->Ld = m->w.n_dec_layers;
    m->embed_scale = m->q.scale_embedding ? sqrtf((float)m->D) : 1.0f;
    return pack_model(m, err);
}

void dg_model_opts_default(dg_model_opts *o)
{
    memset(o, 0, sizeof *o);
    o->compute_type = DG_COMPUTE_AUTO;
}

dg_model *dg_model_load_opts(const char *dir, const dg_model_opts *opts, dg_err *err)
{
    dg_model *m = calloc(1, sizeof *m);
    if (!m) {
        dg_err_set(err, DG_E_NOMEM, "model: out of memory");
        return NULL;
    }
    m->wtype = dg_compute_type_resolve(opts ? opts->compute_type : DG_COMPUTE_AUTO);
    if (dg_config_load(&m->cfg, dir, err))
        goto fail;
    m->ck = dg_checkpoint_open(dir, err);
    if (!m->ck || dg_arch_bind(&m->w, &m->cfg, m->ck, err) || dg_model_pack(m, err))
        goto fail;
    return m;
fail:
    dg_err_prefix(err, "%s", dir);
    dg_model_free(m);
    return NULL;
}

dg_model *dg_model_load(const char *dir, dg_err *err)
{
    return dg_model_load_opts(dir, NULL, err);
}

static void free_layer(dg_layer *L)
{
    dg_matrix_free(&L->qkv);
    dg_matrix_free(&L->o);
    dg_matrix_free(&L->cq);
    dg_matrix_free(&L->co);
    dg_matrix_free(&L->fc1);
    dg_matrix_free(&L->fc2);
}

void dg_model_free(dg_model *m)
{
    if (!m)
        return;
    for (int l = 0; m->enc && l < m->Le; l++)
        free_layer(&m->enc[l]);
    for (int l = 0; m->dec && l < m->Ld; l++)
        free_layer(&m->dec[l]);
    free(m->enc);
    free(m->dec);
    free(m->pos);
    dg_matrix_free(&m->cross_kv);
    dg_matrix_free(&m->lm_head);
    if (m->ck) /* weights bound from a checkpoint; hand-built ones (tests) are the caller's */
        dg_arch_free(&m->w);
    dg_checkpoint_close(m->ck);
    free(m);
}

const dg_config *dg_model_config(const dg_model *m)
{
    return &m->cfg;
}
