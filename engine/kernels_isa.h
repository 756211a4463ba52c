/* Included by kernels.c only: renames its functions with an _avx2 suffix, so the AVX2 build of
 * the kernels and the scalar twins (kernels_ref.c) can both be linked, and kernels_dispatch.c
 * defines the public dg_k_* names, choosing per CPU (see cpu.h). A kernel added to kernels.c
 * needs a line here and a wrapper in kernels_dispatch.c (the link fails otherwise). */
#ifndef DG_KERNELS_ISA_H
#define DG_KERNELS_ISA_H

#define dg_k_add_layernorm dg_k_add_layernorm_avx2
#define dg_k_layernorm dg_k_layernorm_avx2
#define dg_k_add dg_k_add_avx2
#define dg_k_activation dg_k_activation_avx2
#define dg_k_softmax dg_k_softmax_avx2
#define dg_k_log_softmax dg_k_log_softmax_avx2
#define dg_k_argmax dg_k_argmax_avx2
#define dg_k_topk dg_k_topk_avx2
#define dg_k_lse dg_k_lse_avx2
#define dg_k_topk_lp dg_k_topk_lp_avx2
#define dg_k_dot dg_k_dot_avx2
#define dg_k_axpy dg_k_axpy_avx2
#define dg_k_dots dg_k_dots_avx2
#define dg_k_wsum dg_k_wsum_avx2
#define dg_k_dots_q dg_k_dots_q_avx2
#define dg_k_wsum_q dg_k_wsum_q_avx2
#define dg_k_dots_bf16 dg_k_dots_bf16_avx2
#define dg_k_wsum_bf16 dg_k_wsum_bf16_avx2
#define dg_k_dots_q_bf16 dg_k_dots_q_bf16_avx2
#define dg_k_wsum_q_bf16 dg_k_wsum_q_bf16_avx2
#define dg_k_to_bf16 dg_k_to_bf16_avx2

#endif
