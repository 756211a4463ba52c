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

#include "engine/kernels.h"
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

void dg_position_fairseq(float *out, int row, int D)
{
    /* M2M100SinusoidalPositionalEmbedding.get_embedding in float32: freq_i = exp(i * -c) with
     * c = ln(10000) / (half - 1), angle = row * freq_i, [sin | cos], a zero column for odd D */
    int half = D / 2;
    float c = (float)(log(10000.0) / (half - 1));
    for (int i = 0; i < half; i++) {
        float a = (float)row * expf((float)i * -c);
        out[i] = sinf(a);
        out[half + i] = cosf(a);
    }
    if (D % 2)
        out[D - 1] = 0.0f;
}

int dg_rel_bucket(int rel, int bidirectional, int buckets, int max_distance)
{
    int ret = 0, n = buckets;
    if (bidirectional) {
        n /= 2;
        if (rel > 0)
            ret += n;
        rel = rel < 0 ? -rel : rel;
    } else {
        rel = rel < 0 ? -rel : 0;
    }
    int max_exact = n / 2;
    if (rel < max_exact)
        return ret + rel;
    /* torch: log(float(rel) / max_exact) / math.log(max_distance / max_exact) * (n - max_exact),
     * each operation in float32, truncated to long */
    float v = logf((float)rel / (float)max_exact) / (float)log((double)max_distance / max_exact) *
              (float)(n - max_exact);
    if (!(v < (float)(n - max_exact)))   /* saturated (checked before the cast: v may be huge) */
        return ret + n - 1;
    return ret + max_exact + (int)v;
}

void dg_embed(const dg_model *m, int decoder, const int *ids, const int *pos, int n, float *x)
{
    int D = m->D;
    /* a 16-bit table stays 16-bit: each row is widened into x, then scaled in place */
    const uint8_t *embed = decoder ? m->w.dec_embed : m->w.enc_embed;
    dg_dtype dt = decoder ? m->w.dec_embed_dtype : m->w.enc_embed_dtype;
    size_t row_bytes = (size_t)D * (dt == DG_DTYPE_F32 ? sizeof(float) : 2);
    const float *table = decoder ? m->dec_pos : m->enc_pos;
    const dg_norm *ln = decoder ? &m->w.dec_embed_ln : &m->w.enc_embed_ln;
    for (int i = 0; i < n; i++) {
        const uint8_t *e = embed + (size_t)ids[i] * row_bytes;
        float *xr = x + (size_t)i * D;
        int row = pos[i] + m->q.pos_offset;
        const float *pe = NULL;
        switch (m->q.positions) {
        case DG_POS_SINUSOIDAL_MARIAN:
        case DG_POS_LEARNED: pe = table + (size_t)row * D; break;
        case DG_POS_SINUSOIDAL_FAIRSEQ:
            /* create_position_ids_from_input_ids: row = position + padding_idx + 1, and a pad
             * token gets row padding_idx (zeros); padding_idx = pad_token_id (1 in practice,
             * hence pos_offset 2) */
            row = ids[i] == m->cfg.pad_token_id ? m->cfg.pad_token_id : pos[i] + m->cfg.pad_token_id + 1;
            if (row < m->Ptab) {
                pe = table + (size_t)row * D;
            } else {   /* HF grows its table; the rows past ours are computed here */
                dg_position_fairseq(xr, row, D);
                for (int j = 0; j < D; j++) {
                    float ej;
                    dg_widen_f32(e + (row_bytes / D) * j, dt, 1, &ej);
                    xr[j] += ej * m->embed_scale;
                }
                continue;
            }
            break;
        case DG_POS_RELATIVE: break;
        }
        dg_widen_f32(e, dt, (size_t)D, xr);
        if (pe)
            for (int j = 0; j < D; j++)
                xr[j] = xr[j] * m->embed_scale + pe[j];
        else
            for (int j = 0; j < D; j++)
                xr[j] = xr[j] * m->embed_scale;
    }
    if (ln->g)
        dg_k_add_layernorm(x, NULL, ln->g, ln->b, n, D, m->q.layer_norm_eps);
}

typedef struct {
    dg_checkpoint *ck;
    const dg_pack_src *src;
    int n_src, K;
    int done;            /* rows already evicted */
} evict_ctx;

static size_t src_bytes(const dg_pack_src *s, int rows, int K)
{
    return (size_t)rows * K * (s->dtype == DG_DTYPE_F32 ? sizeof(float) : 2);
}

/* Applies fn to the file pages of stacked rows [r_lo, r_hi). */
static void rows_advise(const evict_ctx *c, int r_lo, int r_hi,
                        void (*fn)(const dg_checkpoint *, const void *, size_t))
{
    for (int s = 0, r0 = 0; s < c->n_src && r0 < r_hi; r0 += c->src[s++].rows) {
        int lo = r_lo > r0 ? r_lo - r0 : 0;
        int hi = r_hi - r0 < c->src[s].rows ? r_hi - r0 : c->src[s].rows;
        if (hi > lo)
            fn(c->ck, (const uint8_t *)c->src[s].w + src_bytes(&c->src[s], lo, c->K),
               src_bytes(&c->src[s], hi - lo, c->K));
    }
}

/* dg_pack_progress: file pages of the rows packed so far leave memory while the rest is
 * packed, so loading never holds a whole tensor's mapping next to its packed copy (the LM head
 * is 65 MB in float32); evicted pages fault in again if read (tied embedding rows). The next
 * block's pages are mapped in one call (page faults are costly, in VMs especially). */
static void evict_packed(void *arg, int rows_done, int rows_next)
{
    evict_ctx *c = arg;
    rows_advise(c, c->done, rows_done, dg_checkpoint_evict);
    rows_advise(c, rows_done, rows_next, dg_checkpoint_prefetch);
    c->done = rows_done;
}

/* How a matrix is stored: products at M = rows per decoder step (1..128) need the panels
 * packed at load; matrices multiplied only by all source tokens of an encoder step (the
 * encoder's, cross K/V) can be float32 views of the checkpoint (gemm.h: within ~10 % of the
 * packed speed from M ~ 64 rows up, and no copy to fault in at load). */
typedef enum { PACK, VIEW_IF_F32 } mat_use;

/* Packs n linears of [rows, K] each (scale[i] applied to the i-th) stacked into one matrix,
 * straight from the checkpoint's data; their file pages (and any float32 conversion) are
 * released as packing proceeds, unless keep (a tied LM head, also the embedding table). With
 * use VIEW_IF_F32, float32 weights (wt and the data) become a view instead, which keeps them
 * (the checkpoint, owned by the model, outlives the matrices). */
static dg_code pack_stacked(dg_matrix *W, const dg_linear *const *l, const float *scale, int n,
                            int rows, int K, dg_wtype wt, dg_checkpoint *ck, bool keep,
                            mat_use use, dg_err *err)
{
    /* calloc: gcc -O2 with ASan cannot see that the loop below fills every entry */
    dg_pack_src *src = calloc((size_t)n, sizeof *src);
    if (!src)
        return dg_err_set(err, DG_E_NOMEM, "model: out of memory packing layer weights");
    for (int i = 0; i < n; i++)
        src[i] = (dg_pack_src){l[i]->w, l[i]->dtype, scale ? scale[i] : 1.0f, l[i]->b, rows};
    if (use == VIEW_IF_F32 && wt == DG_WT_F32 && dg_matrix_viewable(src, n, K)) {
        dg_code rc = dg_matrix_view(W, src, n, K, err);
        free(src);
        return rc;
    }
    evict_ctx ev = {ck, src, n, K, 0};
    dg_code rc = dg_matrix_pack_srcs(W, src, n, K, wt, ck ? evict_packed : NULL, &ev, err);
    for (int i = 0; i < n && !rc && !keep; i++)
        if (src[i].dtype == DG_DTYPE_F32) /* frees a conversion (strided or unaligned data) */
            dg_checkpoint_release(ck, src[i].w, (size_t)rows * K);
    free(src);
    return rc;
}

/* Packs W = l ([rows, K]), releasing its source as pack_stacked does. */
static dg_code pack_one(dg_matrix *W, const dg_linear *l, int rows, int K, dg_wtype wt,
                        dg_checkpoint *ck, bool keep, mat_use use, dg_err *err)
{
    return pack_stacked(W, &l, NULL, 1, rows, K, wt, ck, keep, use, err);
}

static dg_code pack_layer(dg_layer *L, const dg_layer_weights *w, int D, int F, int dh, int A,
                          bool scale, bool decoder, dg_wtype wt, dg_checkpoint *ck, dg_err *err)
{
    float s = scale ? 1.0f / sqrtf((float)dh) : 1.0f;
    const dg_linear *qkv[3] = {&w->q, &w->k, &w->v}, *cq[1] = {&w->cq};
    mat_use u = decoder ? PACK : VIEW_IF_F32;
    L->w = *w;
    if (pack_stacked(&L->qkv, qkv, (float[]){s, 1.0f, 1.0f}, 3, A, D, wt, ck, false, u, err) ||
        pack_one(&L->o, &w->o, D, A, wt, ck, false, u, err) ||
        pack_one(&L->fc1, &w->fc1, F, D, wt, ck, false, u, err) ||
        (w->fc1_noact.w && pack_one(&L->fc1_noact, &w->fc1_noact, F, D, wt, ck, false, u, err)) ||
        pack_one(&L->fc2, &w->fc2, D, F, wt, ck, false, u, err))
        return err ? err->code : DG_E_NOMEM;
    if (decoder && (pack_stacked(&L->cq, cq, &s, 1, A, D, wt, ck, false, PACK, err) ||
                    pack_one(&L->co, &w->co, D, A, wt, ck, false, PACK, err)))
        return err ? err->code : DG_E_NOMEM;
    return DG_OK;
}

static dg_code check_dims(const dg_config *c, dg_err *err)
{
    if (c->d_model <= 0 || c->encoder_heads <= 0 || c->decoder_heads <= 0 ||
        (!c->d_kv && (c->d_model % c->encoder_heads || c->d_model % c->decoder_heads)))
        return dg_err_set(err, DG_E_CONFIG, "d_model %d is not a positive multiple of the heads "
                          "(%d encoder, %d decoder)", c->d_model, c->encoder_heads, c->decoder_heads);
    if (c->max_positions <= 0 || c->vocab_size <= 0 || c->target_vocab_size <= 0 ||
        c->encoder_ffn_dim <= 0 || c->decoder_ffn_dim <= 0 || c->encoder_layers < 0 ||
        c->decoder_layers < 1 || c->d_kv < 0)
        return dg_err_set(err, DG_E_CONFIG, "config: non-positive dimension (positions %d, vocab "
                          "%d/%d, ffn %d/%d, layers %d/%d, d_kv %d)", c->max_positions,
                          c->vocab_size, c->target_vocab_size, c->encoder_ffn_dim,
                          c->decoder_ffn_dim, c->encoder_layers, c->decoder_layers, c->d_kv);
    int Vt = c->target_vocab_size;
    if (c->eos_token_id < 0 || c->eos_token_id >= Vt || c->decoder_start_token_id < 0 ||
        c->decoder_start_token_id >= Vt)
        return dg_err_set(err, DG_E_CONFIG, "eos_token_id %d / decoder_start_token_id %d outside "
                          "the target vocabulary (%d)", c->eos_token_id,
                          c->decoder_start_token_id, Vt);
    return DG_OK;
}

/* Expands a stack's [buckets, H] relative_attention_bias into per-head rows over distances. */
static dg_code pack_rel_bias(dg_rel_bias *rb, const float *w, int H, const dg_config *c,
                             bool bidirectional, dg_err *err)
{
    if (!w)
        return dg_err_set(err, DG_E_MISSING, "relative position bias weights missing");
    rb->maxd = c->rel_max_distance;
    rb->span = bidirectional ? 2 * rb->maxd + 1 : rb->maxd + 1;
    rb->bias = malloc((size_t)H * rb->span * sizeof(float));
    if (!rb->bias)
        return dg_err_set(err, DG_E_NOMEM, "model: out of memory for the position bias");
    for (int i = 0; i < rb->span; i++) {
        /* relative position = memory - query */
        int rel = bidirectional ? i - rb->maxd : -i;
        int bucket = dg_rel_bucket(rel, bidirectional, c->rel_buckets, c->rel_max_distance);
        for (int h = 0; h < H; h++)
            rb->bias[(size_t)h * rb->span + i] = w[(size_t)bucket * H + h];
    }
    return DG_OK;
}

static dg_code pack_positions(dg_model *m, dg_err *err)
{
    int D = m->D;
    /* one case per dg_pos_kind: -Wswitch (with -Werror) fails the build for a kind the
     * engine cannot compute, rather than a run-time check */
    switch (m->q.positions) {
    case DG_POS_SINUSOIDAL_MARIAN:
    case DG_POS_SINUSOIDAL_FAIRSEQ:
        /* fairseq: HF's initial table, max_position_embeddings + offset rows */
        m->Ptab = m->q.positions == DG_POS_SINUSOIDAL_MARIAN
                      ? m->P : m->cfg.max_position_embeddings + m->q.pos_offset;
        if (!(m->pos = malloc((size_t)m->Ptab * D * sizeof(float))))
            return dg_err_set(err, DG_E_NOMEM, "model: out of memory for positions");
        if (m->q.positions == DG_POS_SINUSOIDAL_MARIAN) {
            dg_positions_marian(m->pos, m->Ptab, D);
        } else {
            for (int r = 0; r < m->Ptab; r++)
                dg_position_fairseq(m->pos + (size_t)r * D, r, D);
            if (m->cfg.pad_token_id < m->Ptab)   /* the padding row */
                memset(m->pos + (size_t)m->cfg.pad_token_id * D, 0, (size_t)D * sizeof(float));
        }
        m->enc_pos = m->dec_pos = m->pos;
        return DG_OK;
    case DG_POS_LEARNED:
        if (!m->w.enc_pos || !m->w.dec_pos)
            return dg_err_set(err, DG_E_MISSING, "learned position tables missing");
        m->enc_pos = m->w.enc_pos;
        m->dec_pos = m->w.dec_pos;
        m->Ptab = m->P + m->q.pos_offset;
        return DG_OK;
    case DG_POS_RELATIVE:
        if (pack_rel_bias(&m->enc_rel, m->w.enc_rel_bias, m->He, &m->cfg, true, err) ||
            pack_rel_bias(&m->dec_rel, m->w.dec_rel_bias, m->Hd, &m->cfg, false, err))
            return err ? err->code : DG_E_NOMEM;
        return DG_OK;
    }
    return DG_OK;
}

static dg_code pack_model(dg_model *m, dg_err *err)
{
    const dg_model_weights *w = &m->w;
    int D = m->D, A = m->Ad;
    m->enc = calloc(m->Le ? m->Le : 1, sizeof *m->enc);
    m->dec = calloc(m->Ld, sizeof *m->dec);
    const dg_linear **ckv = calloc((size_t)2 * m->Ld, sizeof *ckv);
    dg_code rc = DG_OK;
    if (!m->enc || !m->dec || !ckv)
        rc = dg_err_set(err, DG_E_NOMEM, "model: out of memory packing weights");
    if (!rc)
        rc = pack_positions(m, err);
    for (int l = 0; l < m->Le && !rc; l++)
        rc = pack_layer(&m->enc[l], &w->enc_layers[l], D, m->Fe, m->dhe, m->Ae,
                        m->q.scale_attention, false, m->wtype, m->ck, err);
    for (int l = 0; l < m->Ld && !rc; l++) {
        rc = pack_layer(&m->dec[l], &w->dec_layers[l], D, m->Fd, m->dhd, A, m->q.scale_attention,
                        true, m->wtype, m->ck, err);
        ckv[2 * l] = &w->dec_layers[l].ck;
        ckv[2 * l + 1] = &w->dec_layers[l].cv;
    }
    if (!rc)
        rc = pack_stacked(&m->cross_kv, ckv, NULL, 2 * m->Ld, A, D, m->wtype, m->ck, false,
                          VIEW_IF_F32, err);
    /* a tied LM head is also the embedding table, whose rows the forward pass still reads;
     * it stays packed: every decoder step multiplies it by a few rows (a view measured 1.2x
     * (128 rows) to 3.3x (4 rows) slower) */
    bool tied = w->lm_head == w->dec_embed || w->lm_head == w->enc_embed;
    dg_linear head = {w->lm_head, w->final_logits_bias, w->lm_head_dtype};
    if (!rc)
        rc = pack_one(&m->lm_head, &head, m->Vt, D, m->wtype, m->ck, tied, PACK, err);
    free(ckv);
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
    m->dhe = c->d_kv ? c->d_kv : m->D / m->He;
    m->dhd = c->d_kv ? c->d_kv : m->D / m->Hd;
    m->Ae = m->He * m->dhe;
    m->Ad = m->Hd * m->dhd;
    m->Fe = c->encoder_ffn_dim;
    m->Fd = c->decoder_ffn_dim;
    m->Vs = c->vocab_size;
    m->Vt = c->target_vocab_size;
    m->P = c->max_positions;
    m->Le = m->w.n_enc_layers;
    m->Ld = m->w.n_dec_layers;
    m->mask_id = c->pad_token_id >= 0 && c->pad_token_id != c->eos_token_id ? c->pad_token_id : -1;
    m->embed_scale = m->q.scale_embedding ? sqrtf((float)m->D) : 1.0f;
    /* T5: sequence_output * (model_dim ** -0.5), a Python float applied in float32 */
    m->lm_scale = m->q.scale_lm_input ? (float)pow(m->D, -0.5) : 1.0f;
    return pack_model(m, err);
}

void dg_model_opts_default(dg_model_opts *o)
{
    memset(o, 0, sizeof *o);
    o->compute_type = DG_COMPUTE_FLOAT32;
}

dg_model *dg_model_load_opts(const char *dir, const dg_model_opts *opts, dg_err *err)
{
    dg_model *m = calloc(1, sizeof *m);
    if (!m) {
        dg_err_set(err, DG_E_NOMEM, "model: out of memory");
        return NULL;
    }
    m->wtype = dg_compute_type_resolve(opts ? opts->compute_type : DG_COMPUTE_FLOAT32);
    /* float32 keeps its caches exact (transformers' ids); int8 and bfloat16 already round their
     * products, and bf16 caches halve what a decoder step reads from memory (README) */
    m->kvtype = m->wtype == DG_WT_F32 ? DG_KV_F32 : DG_KV_BF16;
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
    dg_matrix_free(&L->fc1_noact);
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
    free(m->enc_rel.bias);
    free(m->dec_rel.bias);
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
