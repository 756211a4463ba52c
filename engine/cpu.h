/* Run-time CPU feature detection and the instruction-set level the engine's kernels use.
 *
 * DESIGN. The binary is built for baseline x86-64; only the kernel files (kernels.c,
 * gemm_kernels_avx2.c, gemm_kernels_avx512.c) are compiled with their ISA's flags, and callers
 * pick them through dg_isa_active(), so one image runs on any x86-64 host and uses what the
 * host has. DG_ISA=ref|avx2|avx512 in the environment caps the level (tests of the lower paths
 * on a bigger CPU, or working around a suspected kernel bug); a cap above what the CPU has is
 * clamped to the CPU. */
#ifndef DG_CPU_H
#define DG_CPU_H

#include <stdbool.h>

typedef enum {
    DG_ISA_REF = 0,    /* portable C */
    DG_ISA_AVX2 = 1,   /* AVX2 + FMA (Haswell, Zen 1-3) */
    DG_ISA_AVX512 = 2, /* AVX-512 F/BW/DQ/VL (Skylake-SP, Ice Lake, Zen 4) */
} dg_isa;

typedef struct {
    bool avx2_fma;
    bool avx512;       /* F + BW + DQ + VL, with OS support for the zmm state */
    bool avx512_vnni;  /* vpdpbusd */
    bool avx512_bf16;  /* vdpbf16ps */
} dg_cpu_features;

/* What this CPU supports (detected once; thread-safe). */
const dg_cpu_features *dg_cpu(void);
/* The highest level the CPU supports. */
dg_isa dg_isa_max(void);
/* The level in use: dg_isa_max() capped by DG_ISA (read once). */
dg_isa dg_isa_active(void);
const char *dg_isa_name(dg_isa isa);

#endif
