/* Model loading: config + checkpoint + architecture binding, then the one-time packing of
 * weights into the layouts the forward pass wants (see model.h), the sinusoidal position table,
 * and the generation defaults.
 *
 * DESIGN. Everything computed here is computed once and then only read, so a dg_model can be
 * shared by any number of worker threads without locks. Tensors that need no re-layout are used
 * in place (views into the checkpoint mapping). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model.h"

void dg_gemm_linear(const float *x, int M, int K, const float *W, const float *b, int N,
                    float *y)
{
    if (M <= 0)
        return;
    /* the bias seeds y and the GEMM accumulates onto it (beta = 1): one pass over y fewer than
     * zeroing it (beta = 0) and adding the bias afterwards */
    if (b)
        for (int r = 0; r < M; r++)
            memcpy(y + (size_t)r * N, b, (size_t)N * sizeof *y);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x, K, W, K,
                b ? 1.0f : 0.0f, y, N);
}

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
static void pack_linear(const dg_linear *l, int rows, int D, float scale, float *dst, float *bdst)
{
    for (size_t i = 0; i < (size_t)rows * D; i++)
        dst[i] = l->w[i] * scale;
    for (int i = 0; i < rows; i++)
        bdst[i] = l->b ? l->b[i] * scale : 0.0f;
}

static dg_code pack_layer(dg_layer *L, const dg_layer_weights *w, int D, int dh, bool decoder,
                          dg_err *err)
{
    float s = 1.0f / sqrtf((float)dh);
    L->qkv_w = malloc((size_t)3 * D * D * sizeof(float));
    L->qkv_b = malloc((size_t)3 * D * sizeof(float));
    if (decoder) {
        L->cq_w = malloc((size_t)D * D * sizeof(float));
        L->cq_b = malloc((size_t)D * sizeof(float));
    }
    if (!L->qkv_w || !L->qkv_b || (decoder && (!L->cq_w || !L->cq_b)))
        return dg_err_set(err, DG_E_NOMEM, "model: out of memory packing layer weights");
    pack_linear(&w->q, D, D, s, L->qkv_w, L->qkv_b);
    pack_linear(&w->k, D, D, 1.0f, L->qkv_w + (size_t)D * D, L->qkv_b + D);
    pack_linear(&w->v, D, D, 1.0f, L->qkv_w + (size_t)2 * D * D, L->qkv_b + 2 * D);
    L->o = w->o;
    L->ln_attn = w->self_attn_ln;
    if (decoder) {
        pack_linear(&w->cq, D, D, s, L->cq_w, L->cq_b);
        L->co = w->co;
        L->ln_cross = w->cross_attn_ln;
    }
    L->fc1 = w->fc1;
    L->fc2 = w->fc2;
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
    m->cross_kv_w = malloc((size_t)m->Ld * 2 * D * D * sizeof(float));
    m->cross_kv_b = malloc((size_t)m->Ld * 2 * D * sizeof(float));
    if (!m->pos || !m->enc || !m->dec || !m->cross_kv_w || !m->cross_kv_b)
        return dg_err_set(err, DG_E_NOMEM, "model: out of memory packing weights");
    /* one case per dg_pos_kind: -Wswitch (with -Werror) fails the build for a kind the
     * engine cannot compute, rather than a run-time check */
    switch (m->q.positions) {
    case DG_POS_SINUSOIDAL_MARIAN: dg_positions_marian(m->pos, m->P, D); break;
    }
    for (int l = 0; l < m->Le; l++)
        if (pack_layer(&m->enc[l], &w->enc_layers[l], D, D / m->He, false, err))
            return err ? err->code : DG_E_NOMEM;
    for (int l = 0; l < m->Ld; l++) {
        if (pack_layer(&m->dec[l], &w->dec_layers[l], D, D / m->Hd, true, err))
            return err ? err->code : DG_E_NOMEM;
        size_t o = (size_t)l * 2 * D;
        pack_linear(&w->dec_layers[l].ck, D, D, 1.0f, m->cross_kv_w + o * D, m->cross_kv_b + o);
        pack_linear(&w->dec_layers[l].cv, D, D, 1.0f, m->cross_kv_w + (o + D) * D,
                    m->cross_kv_b + o + D);
    }
    return DG_OK;
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

dg_model *dg_model_load(const char *dir, dg_err *err)
{
    dg_model *m = calloc(1, sizeof *m);
    if (!m) {
        dg_err_set(err, DG_E_NOMEM, "model: out of memory");
        return NULL;
    }
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

void dg_model_free(dg_model *m)
{
    if (!m)
        return;
    for (int l = 0; m->enc && l < m->Le; l++) {
        free(m->enc[l].qkv_w);
        free(m->enc[l].qkv_b);
    }
    for (int l = 0; m->dec && l < m->Ld; l++) {
        free(m->dec[l].qkv_w);
        free(m->dec[l].qkv_b);
        free(m->dec[l].cq_w);
        free(m->dec[l].cq_b);
    }
    free(m->enc);
    free(m->dec);
    free(m->pos);
    free(m->cross_kv_w);
    free(m->cross_kv_b);
    if (m->ck) /* weights bound from a checkpoint; hand-built ones (tests) are the caller's */
        dg_arch_free(&m->w);
    dg_checkpoint_close(m->ck);
    free(m);
}

const dg_config *dg_model_config(const dg_model *m)
{
    return &m->cfg;
}
