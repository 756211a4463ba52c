/* DESIGN: the dg_tokenizer struct, shared by marian_load.c (building it from a folder) and
 * marian.c (encode/decode). Not a public header: callers use tokenizer/tokenizer.h.
 *
 * Id spaces: HF registers the special tokens as "added tokens" whose ids come from vocab.json
 * (or from tokenizer_config.json's added_tokens_decoder), so special_id[] is always a source-
 * vocabulary id, even when the target side has its own vocabulary. */
#ifndef DG_MARIAN_INTERNAL_H
#define DG_MARIAN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "tokenizer/spm.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

enum { DG_SP_EOS, DG_SP_UNK, DG_SP_PAD, DG_SP_N };

struct dg_tokenizer {
    dg_spm *spm[2];          /* [dg_side] source.spm, target.spm */
    dg_vocab *vocab[2];      /* [dg_side]; both point to vocab.json unless separate */
    bool separate;           /* separate_vocabs: vocab[TARGET] is target_vocab.json */
    bool cleanup;            /* clean_up_tokenization_spaces */
    char *special[DG_SP_N];  /* token strings, e.g. "</s>" */
    size_t special_len[DG_SP_N];
    int special_id[DG_SP_N]; /* HF added-token ids (source vocabulary) */
    int unk_id[2];           /* [dg_side] id a piece missing from that side's vocabulary gets */
    int id_limit[2];         /* [dg_side] */
    int *codes;              /* [n_codes] vocab entry indices of the ">>xx<<" language codes */
    int n_codes;
};

#endif
