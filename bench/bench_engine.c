/* DESIGN: the engine benchmark (a program, not a test). On one checkpoint, in one run, it
 * measures what the engine issue asks for and reports every speed figure next to a reference
 * measured in the same run, because this machine is shared and noisy: the GFLOP/s that
 * cblas_sgemm reaches on a large square product.
 *
 *   - model load time and peak RSS
 *   - encoder tokens/s and GFLOP/s (batches of 32 sentences), as a fraction of sgemm peak
 *   - generated target tokens/s at beam 1 and 4, batch 1, 8 and 32; output lengths are forced
 *     (min_length = max_new_tokens + 1) so every configuration does the same work
 *   - single-sentence latency at beam 4
 *
 * Source sentences are random ids (the figures do not depend on the text). Batch 1 runs a
 * smaller number of sentences (--small) to keep the run short; tokens/s stays comparable. */
#include <cblas.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "engine/forward.h"
#include "engine/model.h"

typedef struct {
    const char *model_dir;
    int threads, sentences, small, src_len, gen_len, json, compute_type;
    int alignment;  /* --alignment: only the cost of return_alignment, interleaved runs */
    int kv_ab;      /* --kv-ab: float32 against bf16 attention caches, interleaved runs */
    int only_beams, only_batch; /* --only BEAMS,BATCH: load time and that one generate figure */
} bench_args;

static int g_alignment; /* return_alignment for bench_generate */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(const char *what, const dg_err *err)
{
    fprintf(stderr, "bench_engine: %s: %s\n", what, err ? err->msg : "out of memory");
    exit(1);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) die("malloc", NULL);
    return p;
}

/* Best of 3 runs of a 2048³ sgemm: the machine's attainable fp32 GEMM rate right now. */
static double sgemm_peak_gflops(void)
{
    const int n = 2048;
    float *a = xmalloc(sizeof(float) * n * n), *b = xmalloc(sizeof(float) * n * n),
          *c = xmalloc(sizeof(float) * n * n);
    for (long i = 0; i < (long)n * n; i++)
        a[i] = b[i] = (float)((i % 13) - 6) * 0.01f;
    double best = 0;
    for (int r = 0; r < 4; r++) {
        double t = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        t = now() - t;
        if (r > 0 && 2.0 * n * n * n / t / 1e9 > best) /* run 0 warms up */
            best = 2.0 * n * n * n / t / 1e9;
    }
    free(a), free(b), free(c);
    return best;
}

/* n sentences of len-1 random ids in [2, V-2) followed by EOS. */
static int **make_sources(const dg_config *cfg, int n, int len)
{
    int **src = xmalloc(n * sizeof *src);
    unsigned s = 12345;
    for (int i = 0; i < n; i++) {
        src[i] = xmalloc(len * sizeof **src);
        for (int k = 0; k < len - 1; k++) {
            s = s * 1103515245u + 12345u;
            src[i][k] = 2 + (int)((s >> 8) % (unsigned)(cfg->vocab_size - 4));
            if (src[i][k] == cfg->pad_token_id || src[i][k] == cfg->eos_token_id) src[i][k] = 2;
        }
        src[i][len - 1] = cfg->eos_token_id;
    }
    return src;
}

/* FLOPs of encoding one sentence of S tokens, including the decoder's cross-attention K/V
 * projections that dg_encode computes for it. */
static double encoder_flops(const dg_model *m, int S)
{
    double D = m->D, A = m->Ae, F = m->Fe * (m->Le && m->enc[0].w.fc1_noact.w ? 1.5 : 1.0);
    double per_layer = S * (2 * 4 * D * A + 2 * 2 * D * F) + 2 * 2.0 * S * S * A;
    return m->Le * per_layer + S * 2.0 * m->Ld * 2 * D * m->Ad;
}

static double bench_encoder(const dg_model *m, int **src, int n, int S, double *gflops)
{
    const int chunk = 32;
    int *ids = xmalloc(sizeof(int) * chunk * S), off[32], len[32];
    void *kv[32];
    for (int i = 0; i < chunk; i++) {
        kv[i] = xmalloc(sizeof(float) * S * m->Ld * 2 * m->Ad);
        off[i] = i * S;
        len[i] = S;
    }
    dg_fwd_ws ws = {0};
    dg_err err = {0};
    double t = 0, flops = 0;
    for (int pass = 0; pass < 2; pass++) { /* pass 0 warms the workspaces */
        double t0 = now();
        for (int i = 0; i < n; i += chunk) {
            int ns = n - i < chunk ? n - i : chunk;
            for (int k = 0; k < ns; k++)
                memcpy(ids + k * S, src[i + k], sizeof(int) * S);
            if (dg_encode(m, &ws, ids, off, len, ns, kv, &err) != DG_OK) die("encode", &err);
            if (pass) flops += ns * encoder_flops(m, S);
        }
        t = now() - t0;
    }
    dg_fwd_ws_free(&ws);
    for (int i = 0; i < chunk; i++)
        free(kv[i]);
    free(ids);
    *gflops = flops / t / 1e9;
    return n * S / t;
}

/* Generated tokens/s translating n sentences with the given beam and batch size. */
static double bench_generate(dg_batch *b, const dg_model *m, int **src, int n, int S, int beams,
                             int batch, int gen)
{
    int *lens = xmalloc(n * sizeof *lens);
    for (int i = 0; i < n; i++)
        lens[i] = S;
    dg_search_opts o;
    dg_search_opts_default(&o, m);
    o.num_beams = beams;
    o.num_return_sequences = 1;
    o.max_new_tokens = gen;
    o.min_length = gen + 1; /* counts the decoder start token: no EOS before gen tokens */
    o.return_alignment = g_alignment;
    dg_err err = {0};
    if (dg_search_opts_check(&o, m, &err) != DG_OK) die("options", &err);
    dg_result *res = xmalloc(n * sizeof *res);
    double t = now();
    if (dg_translate(b, (const int *const *)src, lens, n, &o, batch, res, &err) != DG_OK)
        die("translate", &err);
    t = now() - t;
    long tokens = 0;
    for (int i = 0; i < n; i++) {
        tokens += res[i].len[0];
        dg_result_free(&res[i]);
    }
    free(res);
    free(lens);
    return tokens / t;
}

static double bench_latency(dg_batch *b, const dg_model *m, int **src, int S, int gen)
{
    double best[5];
    int beams = 4;
    for (int r = 0; r < 5; r++) {
        double t = now();
        bench_generate(b, m, src + r, 1, S, beams, 1, gen);
        best[r] = now() - t;
    }
    for (int i = 0; i < 5; i++) /* median of 5 */
        for (int j = i + 1; j < 5; j++)
            if (best[j] < best[i]) {
                double x = best[i];
                best[i] = best[j];
                best[j] = x;
            }
    return best[2];
}

static void parse(int argc, char **argv, bench_args *a)
{
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},     {"threads", required_argument, 0, 't'},
        {"sentences", required_argument, 0, 'n'}, {"small", required_argument, 0, 's'},
        {"src-len", required_argument, 0, 'l'},   {"gen-len", required_argument, 0, 'g'},
        {"json", no_argument, 0, 'j'},            {"compute-type", required_argument, 0, 'c'},
        {"alignment", no_argument, 0, 'a'},       {"only", required_argument, 0, 'o'},
        {"kv-ab", no_argument, 0, 'k'},           {0, 0, 0, 0}};
    *a = (bench_args){NULL, 2, 200, 24, 25, 30, 0, DG_COMPUTE_FLOAT32, 0, 0, 0, 0};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'm': a->model_dir = optarg; break;
        case 't': a->threads = atoi(optarg); break;
        case 'n': a->sentences = atoi(optarg); break;
        case 's': a->small = atoi(optarg); break;
        case 'l': a->src_len = atoi(optarg); break;
        case 'g': a->gen_len = atoi(optarg); break;
        case 'j': a->json = 1; break;
        case 'c':
            if ((a->compute_type = dg_compute_type_parse(optarg)) < 0) {
                fprintf(stderr, "bench_engine: --compute-type is auto|float32|int8|bfloat16\n");
                exit(2);
            }
            break;
        case 'a': a->alignment = 1; break;
        case 'k': a->kv_ab = 1; break;
        case 'o':
            if (sscanf(optarg, "%d,%d", &a->only_beams, &a->only_batch) != 2 ||
                a->only_beams < 1 || a->only_batch < 1) {
                fprintf(stderr, "bench_engine: --only is BEAMS,BATCH (e.g. 4,32)\n");
                exit(2);
            }
            break;
        default:
            fprintf(stderr, "usage: bench_engine --model DIR [--threads N] [--sentences N] "
                            "[--small N] [--src-len N] [--gen-len N] [--json] [--compute-type T] "
                            "[--alignment] [--kv-ab] [--only BEAMS,BATCH]\n");
            exit(2);
        }
    }
    if (!a->model_dir || a->threads < 1 || a->sentences < 5 || a->small < 5 || a->src_len < 2 ||
        a->gen_len < 1) {
        fprintf(stderr, "bench_engine: --model DIR required; counts must be positive\n");
        exit(2);
    }
}

int main(int argc, char **argv)
{
    bench_args a;
    parse(argc, argv, &a);
    openblas_set_num_threads(a.threads);
    double peak = a.only_beams ? 0 : sgemm_peak_gflops();

    dg_err err = {0};
    double t = now();
    dg_model_opts mo;
    dg_model_opts_default(&mo);
    mo.compute_type = (dg_compute_type)a.compute_type;
    dg_model *m = dg_model_load_opts(a.model_dir, &mo, &err);
    if (!m) die("load", &err);
    double load_s = now() - t;
    dg_batch *b = dg_batch_create(m, a.threads, &err);
    if (!b) die("batch", &err);

    int **src = make_sources(dg_model_config(m), a.sentences, a.src_len);
    if (a.kv_ab) {
        /* the model's caches in float32 and in bf16 (what its compute type picks), alternating
         * in one process, one batch each (a batch's kept states hold caches of one type):
         * tokens per CPU-second, the median and best of 5 each */
        int beams = a.only_beams ? a.only_beams : 4, batch = a.only_beams ? a.only_batch : 32;
        dg_batch *bb[2] = {b, dg_batch_create(m, a.threads, &err)};
        if (!bb[1]) die("batch", &err);
        double x[2][5];
        for (int r = 0; r < 10; r++) {
            struct timespec c0, c1;
            m->kvtype = r & 1 ? DG_KV_BF16 : DG_KV_F32;
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
            double w0 = now();
            double tps = bench_generate(bb[r & 1], m, src, a.sentences, a.src_len, beams, batch,
                                        a.gen_len);
            double wall = now() - w0;
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
            double cpu = (double)(c1.tv_sec - c0.tv_sec) + (c1.tv_nsec - c0.tv_nsec) * 1e-9;
            x[r & 1][r / 2] = tps * wall / cpu;
        }
        for (int s = 0; s < 2; s++) /* sort each side's 5 */
            for (int i = 0; i < 5; i++)
                for (int j = i + 1; j < 5; j++)
                    if (x[s][j] < x[s][i]) {
                        double t = x[s][i];
                        x[s][i] = x[s][j];
                        x[s][j] = t;
                    }
        printf("beam %d batch %d, tokens/cpu-s: float32 caches median %.1f best %.1f, bf16 "
               "caches median %.1f best %.1f (median %+.1f%%)\n", beams, batch, x[0][2], x[0][4],
               x[1][2], x[1][4], 100 * (x[1][2] / x[0][2] - 1));
        dg_batch_free(bb[1]);
        return 0;
    }
    if (a.only_beams) {
        /* one figure, for A/B runs of two builds: batch 1 is the latency (ms) of one
         * sentence, median of 5; otherwise tokens/s over --sentences. Also per second of
         * process CPU time, which on a busy shared machine varies less than wall time. */
        struct timespec c0, c1;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
        double w0 = now();
        double x = a.only_batch == 1 && a.only_beams == 4
                       ? 1e3 * bench_latency(b, m, src, a.src_len, a.gen_len)
                       : bench_generate(b, m, src, a.sentences, a.src_len, a.only_beams,
                                        a.only_batch, a.gen_len);
        double wall = now() - w0;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
        double cpu = (double)(c1.tv_sec - c0.tv_sec) + (c1.tv_nsec - c0.tv_nsec) * 1e-9;
        printf("load_s %.3f beam %d batch %d: %.2f %s, cpu/wall %.3f\n", load_s, a.only_beams,
               a.only_batch, x * (a.only_batch == 1 && a.only_beams == 4 ? cpu / wall : wall / cpu),
               a.only_batch == 1 && a.only_beams == 4 ? "cpu-ms" : "tokens/cpu-s", cpu / wall);
        return 0;
    }
    if (a.alignment) {
        /* alternating runs without and with the alignment, beam 4 batch 32: the best of 5
         * each, so a busy machine's noise does not land on one side only */
        double off = 0, on = 0;
        for (int r = 0; r < 10; r++) {
            g_alignment = r & 1;
            double x = bench_generate(b, m, src, a.sentences, a.src_len, 4, 32, a.gen_len);
            if (g_alignment)
                on = x > on ? x : on;
            else
                off = x > off ? x : off;
        }
        printf("beam 4 batch 32: %.1f tokens/s without alignment, %.1f with (%+.1f%%)\n", off,
               on, 100 * (on / off - 1));
        return 0;
    }
    double enc_gflops, enc_tps = bench_encoder(m, src, a.sentences, a.src_len, &enc_gflops);

    static const int beams[] = {1, 4}, batches[] = {1, 8, 32};
    double gen[2][3];
    for (int bi = 0; bi < 2; bi++)
        for (int k = 0; k < 3; k++) {
            int n = batches[k] == 1 ? a.small : a.sentences;
            gen[bi][k] = bench_generate(b, m, src, n, a.src_len, beams[bi], batches[k], a.gen_len);
            if (!a.json)
                fprintf(stderr, "  beam %d batch %2d: %.1f tokens/s\n", beams[bi], batches[k],
                        gen[bi][k]);
        }
    double latency = bench_latency(b, m, src, a.src_len, a.gen_len);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss_mb = ru.ru_maxrss / 1024.0;

    if (a.json) {
        printf("{\"threads\": %d, \"sgemm_peak_gflops\": %.2f, \"load_s\": %.3f, "
               "\"peak_rss_mb\": %.1f, \"encoder_tokens_per_s\": %.1f, \"encoder_gflops\": %.2f, "
               "\"encoder_fraction_of_peak\": %.3f, \"generate_tokens_per_s\": {",
               a.threads, peak, load_s, rss_mb, enc_tps, enc_gflops, enc_gflops / peak);
        for (int bi = 0; bi < 2; bi++)
            for (int k = 0; k < 3; k++)
                printf("%s\"beam%d_batch%d\": %.1f", bi || k ? ", " : "", beams[bi], batches[k],
                       gen[bi][k]);
        printf("}, \"latency_beam4_ms\": %.1f, \"src_len\": %d, \"gen_len\": %d, "
               "\"sentences\": %d}\n",
               latency * 1e3, a.src_len, a.gen_len, a.sentences);
    } else {
        printf("threads                 %d\n", a.threads);
        printf("sgemm peak              %.1f GFLOP/s (2048^3)\n", peak);
        printf("model load              %.3f s\n", load_s);
        printf("peak RSS                %.1f MB\n", rss_mb);
        printf("encoder                 %.0f tokens/s, %.1f GFLOP/s = %.0f%% of sgemm peak\n",
               enc_tps, enc_gflops, 100 * enc_gflops / peak);
        for (int bi = 0; bi < 2; bi++)
            for (int k = 0; k < 3; k++)
                printf("generate beam %d batch %-2d %.1f tokens/s\n", beams[bi], batches[k],
                       gen[bi][k]);
        printf("latency (1 sentence, beam 4) %.1f ms\n", latency * 1e3);
    }
    for (int i = 0; i < a.sentences; i++)
        free(src[i]);
    free(src);
    dg_batch_free(b);
    dg_model_free(m);
    return 0;
}
