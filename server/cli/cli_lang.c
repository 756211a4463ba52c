/* DESIGN: see cli_lang.h. */
#include "server/cli/cli_lang.h"

#include <stdio.h>

int dg_cli_langs(const char *cmd, const dg_tokenizer *t, const char *source, const char *target,
                 int *src, int *tgt)
{
    dg_err err = {0};
    *src = *tgt = -1;
    if (source && dg_tokenizer_find_lang(t, DG_SIDE_SOURCE, source, src, &err) != DG_OK) {
        fprintf(stderr, "dragoman %s: --source: %s\n", cmd, err.msg);
        return -1;
    }
    if (target && dg_tokenizer_find_lang(t, DG_SIDE_TARGET, target, tgt, &err) != DG_OK) {
        fprintf(stderr, "dragoman %s: --target: %s\n", cmd, err.msg);
        return -1;
    }
    int s = *src >= 0 ? *src : dg_tokenizer_default_lang(t, DG_SIDE_SOURCE);
    int g = *tgt >= 0 ? *tgt : dg_tokenizer_default_lang(t, DG_SIDE_TARGET);
    if (!dg_tokenizer_pair_ok(t, s, g)) {
        fprintf(stderr, "dragoman %s: --source/--target: the model does not translate %s to %s\n",
                cmd, dg_tokenizer_lang(t, DG_SIDE_SOURCE, s), dg_tokenizer_lang(t, DG_SIDE_TARGET, g));
        return -1;
    }
    return 0;
}
