/* One decoder step over R live rows → logits [R, Vt].
 *
 * DESIGN. Rows may come from different sentences at different positions; the projections and
 * the LM head are single GEMMs over all R rows, only attention looks at where each row's
 * sentence keeps its caches. The LM head ([Vt, D], tied or not) dominates the step's cost. */
#include "engine/kernels.h"
#include "engine/layers.h"

dg_code dg_decode_step(const dg_model *m, dg_fwd_ws *ws, const dg_dec_row *rows, int R,
                       float *logits, dg_err *err)
{
    if (R == 0)
        return DG_OK;
    int D = m->D, A = m->Ad, Tmax = 0;
    for (int r = 0; r < R; r++) {
        Tmax = rows[r].pos + 1 > Tmax ? rows[r].pos + 1 : Tmax;
        Tmax = rows[r].S > Tmax ? rows[r].S : Tmax;
    }
    int gated = m->dec[0].w.fc1_noact.w ? 2 : 1;
    float *x = dg_buf_get(&ws->x, (size_t)R * D, err);
    float *h = dg_buf_get(&ws->h, (size_t)R * D, err);
    float *qkv = dg_buf_get(&ws->qkv, (size_t)R * 3 * A, err);
    float *ctx = dg_buf_get(&ws->ctx, (size_t)R * A, err);
    float *tmp = dg_buf_get(&ws->tmp, (size_t)R * D, err);
    float *ffn = dg_buf_get(&ws->ffn, (size_t)R * m->Fd * gated, err);
    /* per thread: one row's self-attention scores, or DG_CROSS_Q rows' cross-attention ones */
    float *scores = dg_buf_get(&ws->scores, (size_t)DG_CROSS_Q * Tmax * dg_pool_threads(ws->pool),
                               err);
    if (!x || !h || !qkv || !ctx || !tmp || !ffn || !scores)
        return DG_E_NOMEM;

    for (int r = 0; r < R; r++)
        dg_embed(m, 1, &rows[r].token, &rows[r].pos, 1, x + (size_t)r * D);
    for (int l = 0; l < m->Ld; l++) {
        const dg_layer *L = &m->dec[l];
        const float *in = dg_sublayer_in(m, x, &L->w.self_attn_ln, R, h);
        dg_matmul(in, R, &L->qkv, qkv, ws->pool);
        dg_attn_cached(qkv, rows, R, l, A, m->Hd, &m->dec_rel, scores, DG_CROSS_Q * Tmax,
                       ws->pool, ctx);
        dg_matmul(ctx, R, &L->o, tmp, ws->pool);
        dg_sublayer_out(m, x, tmp, &L->w.self_attn_ln, R);

        in = dg_sublayer_in(m, x, &L->w.cross_attn_ln, R, h);
        dg_matmul(in, R, &L->cq, qkv, ws->pool);
        dg_attn_cross(qkv, rows, R, l, m->Ld, A, m->Hd, m->kvtype, m->mask_id, scores,
                      DG_CROSS_Q * Tmax, ws->pool, ws->align, ctx);
        dg_matmul(ctx, R, &L->co, tmp, ws->pool);
        dg_sublayer_out(m, x, tmp, &L->w.cross_attn_ln, R);

        in = dg_sublayer_in(m, x, &L->w.final_ln, R, h);
        dg_ffn(m, L, m->Fd, in, R, ffn, tmp, ws->pool);
        dg_sublayer_out(m, x, tmp, &L->w.final_ln, R);
    }
    if (m->q.final_norms)
        dg_k_add_layernorm(x, NULL, m->w.dec_final_ln.g, m->w.dec_final_ln.b, R, D,
                           m->q.layer_norm_eps);
    if (m->lm_scale != 1.0f)
        for (size_t i = 0; i < (size_t)R * D; i++)
            x[i] *= m->lm_scale;
    dg_matmul(x, R, &m->lm_head, logits, ws->pool);
    return DG_OK;
}
