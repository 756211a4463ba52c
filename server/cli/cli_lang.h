/* DESIGN: --source / --target for the CLI commands: a language code as a client writes it,
 * resolved against the model's tokenizer (tokenizer/tokenizer.h dg_tokenizer_find_lang). */
#ifndef DG_CLI_LANG_H
#define DG_CLI_LANG_H

#include "tokenizer/tokenizer.h"

/* Sets *src / *tgt to the language indexes for the codes source / target (NULL = not given:
 * -1, the model's default). On an unknown language or a pair the model does not translate,
 * prints "dragoman CMD: --FLAG: ..." naming the languages available and returns -1. */
int dg_cli_langs(const char *cmd, const dg_tokenizer *t, const char *source, const char *target,
                 int *src, int *tgt);

#endif
