/* Encoder forward over packed sentences, ending with every decoder layer's cross-attention K/V
 * for those sentences (one GEMM over all rows with the stacked [Ld*2D, D] weights).
 *
 * DESIGN. Rows of all sentences added since the last step are encoded together; see forward.h
 * for why packing replaces padding. Each sentence keeps only its cross K/V (the encoder output
 * itself is not needed after this). */
#include <string.h>

#include "engine/kernels.h"
#include "engine/layers.h"

dg_code dg_encode(const dg_model *m, dg_fwd_ws *ws, const int *ids, const int *off,
                  const int *len, int ns, void *const *cross_kv, dg_err *err)
{
    int D = m->D, A = m->Ae, N = 0, Smax = 0;
    for (int i = 0; i < ns; i++) {
        N += len[i];
        Smax = len[i] > Smax ? len[i] : Smax;
    }
    if (N == 0)
        return DG_OK;
    size_t ckv = (size_t)m->Ld * 2 * m->Ad;
    int gated = m->Le > 0 && m->enc[0].w.fc1_noact.w ? 2 : 1;
    float *x = dg_buf_get(&ws->x, (size_t)N * D, err);
    float *h = dg_buf_get(&ws->h, (size_t)N * D, err);
    float *qkv = dg_buf_get(&ws->qkv, (size_t)N * 3 * A, err);
    float *ctx = dg_buf_get(&ws->ctx, (size_t)N * A, err);
    float *tmp = dg_buf_get(&ws->tmp, (size_t)N * D, err);
    float *ffn = dg_buf_get(&ws->ffn, (size_t)N * m->Fe * gated, err);
    float *scores = dg_buf_get(&ws->scores, (size_t)Smax * Smax, err);
    float *cross = dg_buf_get(&ws->cross, (size_t)N * ckv, err);
    if (!x || !h || !qkv || !ctx || !tmp || !ffn || !scores || !cross)
        return DG_E_NOMEM;

    int pad = m->cfg.pad_token_id;
    for (int i = 0; i < ns; i++)
        for (int s = 0, p = 0; s < len[i]; s++) {
            int r = off[i] + s;
            /* fairseq positions count only the non-pad tokens before (create_position_ids_from_
             * input_ids); the others use the index */
            int pos = m->q.positions == DG_POS_SINUSOIDAL_FAIRSEQ ? p : s;
            p += ids[r] != pad;
            dg_embed(m, 0, &ids[r], &pos, 1, x + (size_t)r * D);
        }
    for (int l = 0; l < m->Le; l++) {
        const dg_layer *L = &m->enc[l];
        const float *in = dg_sublayer_in(m, x, &L->w.self_attn_ln, N, h);
        dg_matmul(in, N, &L->qkv, qkv, ws->pool);
        dg_attn_packed(qkv, A, m->He, &m->enc_rel, ids, m->mask_id, off, len, ns, scores, ctx);
        dg_matmul(ctx, N, &L->o, tmp, ws->pool);
        dg_sublayer_out(m, x, tmp, &L->w.self_attn_ln, N);
        in = dg_sublayer_in(m, x, &L->w.final_ln, N, h);
        dg_ffn(m, L, m->Fe, in, N, ffn, tmp, ws->pool);
        dg_sublayer_out(m, x, tmp, &L->w.final_ln, N);
    }
    if (m->q.final_norms)
        dg_k_add_layernorm(x, NULL, m->w.enc_final_ln.g, m->w.enc_final_ln.b, N, D,
                           m->q.layer_norm_eps);
    dg_matmul(x, N, &m->cross_kv, cross, ws->pool);
    for (int i = 0; i < ns; i++) {
        const float *c = cross + (size_t)off[i] * ckv;
        size_t n = (size_t)len[i] * ckv;
        if (m->kvtype == DG_KV_BF16)   /* rounded once here, as the self-attention rows on append */
            for (size_t j = 0; j < n; j += ckv)
                dg_k_to_bf16((uint16_t *)cross_kv[i] + j, c + j, (int)ckv);
        else
            memcpy(cross_kv[i], c, n * sizeof(float));
    }
    return DG_OK;
}
