/* Shared by the libFuzzer targets: inputs that the code under test reads from a path are written
 * to a private temporary folder first. */
#ifndef DG_FUZZ_UTIL_H
#define DG_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "models/tensor_list.h"

/* A folder for this process, made once (removed by the OS's tmp cleaning, tiny). */
static const char *fuzz_dir(void)
{
    static char dir[64];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/dg_fuzz_%d", (int)getpid());
        if (mkdir(dir, 0700) && access(dir, W_OK))
            abort();
    }
    return dir;
}

static void fuzz_write(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
}

/* Reads the first and the last byte of every parsed tensor, so a data range that leaves the
 * buffer is an ASan report, not a silent success. */
static unsigned fuzz_touch(const dg_tensor_list *l)
{
    unsigned acc = 0;
    for (int i = 0; i < l->n; i++) {
        const dg_tensor_entry *t = &l->v[i];
        if (!t->numel)
            continue;
        int64_t last = 0;
        for (int d = 0; d < t->info.ndim; d++)
            last += (t->info.shape[d] - 1) * t->stride[d];
        size_t es = dg_dtype_size(t->info.dtype);
        acc += t->data[0] + t->data[last * (int64_t)es + (int64_t)es - 1];
    }
    return acc;
}

#endif
