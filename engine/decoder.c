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
    int D = m->D, Tmax = 0;
    for (int r = 0; r < R; r++) {
        Tmax = rows[r].pos + 1 > Tmax ? rows[r].pos + 1 : Tmax;
        Tmax = rows[r].S > Tmax ? rows[r].S : Tmax;
    }
    float *x = dg_buf_get(&ws->x, (size_t)R * D, err);
    float *h = dg_buf_get(&ws->h, (size_t)R * D, err);
    float *qkv = dg_buf_get(&ws->qkv, (size_t)R * 3 * D, err);
    float *ctx = dg_buf_get(&ws->ctx, (size_t)R * D, err);
    float *tmp = dg_buf_get(&ws->tmp, (size_t)R * D, err);
    float *ffn = dg_buf_get(&ws->ffn, (size_t)R * m->Fd, err);
    float *scores = dg_buf_get(&ws->scores, (size_t)Tmax * dg_pool_threads(ws->pool), err);
    if (!x || !h || !qkv || !ctx || !tmp || !ffn || !scores)
        return DG_E_NOMEM;

    for (int r = 0; r < R; r++)
        dg_embed(m, m->w.dec_embed, &rows[r].token, &rows[r].pos, 1, x + (size_t)r * D);
    for (int l = 0; l < m->Ld; l++) {
        const dg_layer *L = &m->dec[l];
        const float *in = dg_sublayer_in(m, x, &L->ln_attn, R, h);
        dg_matmul(in, R, &L->qkv, qkv, ws->pool);
        dg_attn_cached(qkv, rows, R, l, D, m->Hd, scores, Tmax, ws->pool, ctx);
        dg_matmul(ctx, R, &L->o, tmp, ws->pool);
        dg_sublayer_out(m, x, tmp, &L->ln_attn, R);

        in = dg_sublayer_in(m, x, &L->ln_cross, R, h);
        dg_matmul(in, R, &L->cq, qkv, ws->pool);
        dg_attn_cross(qkv, rows, R, l, m->Ld, D, m->Hd, scores, Tmax, ws->pool, ctx);
        dg_matmul(ctx, R, &L->co, tmp, ws->pool);
        dg_sublayer_out(m, x, tmp, &L->ln_cross, R);

        in = dg_sublayer_in(m, x, &L->ln_ffn, R, h);
        dg_ffn(m, L, m->Fd, in, R, ffn, tmp, ws->pool);
        dg_sublayer_out(m, x, tmp, &L->ln_ffn, R);
    }
    if (m->q.final_norms)
        dg_k_add_layernorm(x, NULL, m->w.dec_final_ln.g, m->w.dec_final_ln.b, R, D,
                           m->q.layer_norm_eps);
    dg_matmul(x, R, &m->lm_head, logits, ws->pool);
    return DG_OK;
}
