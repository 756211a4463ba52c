/* CPU detection (see cpu.h). __builtin_cpu_supports reads cpuid and, for AVX and AVX-512,
 * checks that the OS saves the wider register state (xgetbv), so a feature it reports is
 * usable. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cpu.h"

static dg_cpu_features features;
static dg_isa isa_max, isa_active;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void detect(void)
{
    __builtin_cpu_init();
    features.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    features.avx512 = features.avx2_fma && __builtin_cpu_supports("avx512f") &&
                      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                      __builtin_cpu_supports("avx512vl");
    features.avx512_vnni = features.avx512 && __builtin_cpu_supports("avx512vnni");
    features.avx512_bf16 = features.avx512 && __builtin_cpu_supports("avx512bf16");
    isa_max = features.avx512 ? DG_ISA_AVX512 : features.avx2_fma ? DG_ISA_AVX2 : DG_ISA_REF;
    isa_active = isa_max;
    const char *cap = getenv("DG_ISA");
    if (cap && *cap) {
        dg_isa want = isa_max;
        if (!strcmp(cap, "ref"))
            want = DG_ISA_REF;
        else if (!strcmp(cap, "avx2"))
            want = DG_ISA_AVX2;
        else if (!strcmp(cap, "avx512"))
            want = DG_ISA_AVX512;
        else /* no error path here (first kernel call); say so rather than ignore it silently */
            fprintf(stderr, "dragoman: DG_ISA=%s is not ref, avx2 or avx512; using %s\n", cap,
                    dg_isa_name(isa_max));
        isa_active = want < isa_max ? want : isa_max;
    }
}

const dg_cpu_features *dg_cpu(void)
{
    pthread_once(&once, detect);
    return &features;
}

dg_isa dg_isa_max(void)
{
    pthread_once(&once, detect);
    return isa_max;
}

dg_isa dg_isa_active(void)
{
    pthread_once(&once, detect);
    return isa_active;
}

const char *dg_isa_name(dg_isa isa)
{
    switch (isa) {
    case DG_ISA_REF: return "ref";
    case DG_ISA_AVX2: return "avx2";
    case DG_ISA_AVX512: return "avx512";
    }
    return "?";
}
