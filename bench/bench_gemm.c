/* Packed GEMM (dg_matmul) against OpenBLAS cblas_sgemm and a float32 view (panels packed per
 * product, gemm.h) on the decoder's and encoder's shapes,
 * one thread, in one process with the variants interleaved (best of several repetitions), to
 * find where OpenBLAS would still win (see gemm.h). Prints time ratios, not absolute speed.
 * Usage: bench_gemm [reps] */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/cpu.h"
#include "engine/gemm.h"

void openblas_set_num_threads(int);

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    openblas_set_num_threads(1);
    int shapes[][2] = {{1536, 512}, {512, 512}, {2048, 512}, {512, 2048}, {32000, 512}};
    int Ms[] = {4, 16, 32, 64, 128, 256, 512, 1024};
    printf("isa %s; ratios = time / packed-f32 time (>1: slower than packed f32)\n",
           dg_isa_name(dg_isa_active()));
    printf("%6s %6s %5s %10s %8s %8s %8s %8s\n", "N", "K", "M", "f32 us", "blas", "int8", "bf16",
           "view");
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        int N = shapes[s][0], K = shapes[s][1];
        float *w = malloc(sizeof(float) * N * K), *b = malloc(sizeof(float) * N);
        for (size_t i = 0; i < (size_t)N * K; i++)
            w[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
        for (int i = 0; i < N; i++)
            b[i] = 0.01f * i;
        dg_matrix W[4];
        dg_err err;
        for (int t = 0; t < 3; t++)
            if (dg_matrix_pack(&W[t], w, b, N, K, (dg_wtype)t, &err))
                return fprintf(stderr, "%s\n", err.msg), 1;
        dg_pack_src src = {w, DG_DTYPE_F32, 1.0f, b, N};
        if (dg_matrix_view(&W[3], &src, 1, K, &err))
            return fprintf(stderr, "%s\n", err.msg), 1;
        for (size_t mi = 0; mi < sizeof Ms / sizeof *Ms; mi++) {
            int M = Ms[mi];
            if ((size_t)M * N > 64u << 20 || (N == 32000 && M > 256))
                continue;
            float *x = malloc(sizeof(float) * M * K), *y = malloc(sizeof(float) * M * N);
            for (size_t i = 0; i < (size_t)M * K; i++)
                x[i] = (float)((i * 40503u) % 997) / 997.0f - 0.5f;
            double best[5] = {1e9, 1e9, 1e9, 1e9, 1e9};
            for (int r = 0; r < reps; r++) {
                for (int v = 0; v < 5; v++) {
                    double t0 = now();
                    if (v == 1) {
                        for (int i = 0; i < M; i++)
                            memcpy(y + (size_t)i * N, b, sizeof(float) * N);
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x, K,
                                    w, K, 1.0f, y, N);
                    } else {
                        dg_matmul(x, M, &W[v == 0 ? 0 : v - 1], y, NULL);
                    }
                    double dt = now() - t0;
                    best[v] = dt < best[v] ? dt : best[v];
                }
            }
            printf("%6d %6d %5d %10.1f %8.2f %8.2f %8.2f %8.2f\n", N, K, M, best[0] * 1e6,
                   best[1] / best[0], best[2] / best[0], best[3] / best[0], best[4] / best[0]);
            fflush(stdout);
            free(x);
            free(y);
        }
        for (int t = 0; t < 4; t++)
            dg_matrix_free(&W[t]);
        free(w);
        free(b);
    }
    return 0;
}
