/* DESIGN: the zip format read from the end. The end-of-central-directory record (EOCD, within
 * the last 64 KiB + 22 bytes) gives the central directory's offset and entry count; a field
 * saturated at 0xFFFF/0xFFFFFFFF means the real value lives in the ZIP64 EOCD, found through
 * the locator just before the EOCD. Each central entry gives name, method, sizes and the local
 * header offset (again possibly in a ZIP64 extra field); the local header's own name/extra
 * lengths then locate the data. torch.save stores entries uncompressed (method 0) so tensor data
 * can be used in place; any other method is refused. Every offset is checked against the file. */
#include "models/zip_store.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOC64 0x07064b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_LOCAL 0x04034b50u

static uint64_t rd(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* true when [off, off+len) lies inside a buffer of SIZE bytes */
static bool in_file(uint64_t off, uint64_t len, size_t size)
{
    return off <= size && len <= size - off;
}

static dg_code find_eocd(const char *path, const uint8_t *buf, size_t size, uint64_t *cd_off,
                         uint64_t *cd_size, uint64_t *count, dg_err *err)
{
    if (size < 22)
        return dg_err_set(err, DG_E_FORMAT, "%s: truncated zip (%zu bytes)", path, size);
    size_t stop = size > 65535 + 22 ? size - 65535 - 22 : 0;
    size_t at = size - 22;
    for (;; at--) {
        if (rd(buf + at, 4) == SIG_EOCD && at + 22 + rd(buf + at + 20, 2) == size)
            break;
        if (at == stop)
            return dg_err_set(err, DG_E_FORMAT, "%s: truncated zip (no end-of-central-directory record)",
                              path);
    }
    *count = rd(buf + at + 10, 2);
    *cd_size = rd(buf + at + 12, 4);
    *cd_off = rd(buf + at + 16, 4);
    if (*count != 0xFFFF && *cd_size != 0xFFFFFFFF && *cd_off != 0xFFFFFFFF)
        return DG_OK;
    if (at < 20 || rd(buf + at - 20, 4) != SIG_LOC64)
        return dg_err_set(err, DG_E_FORMAT, "%s: ZIP64 fields without a ZIP64 locator", path);
    uint64_t off64 = rd(buf + at - 20 + 8, 8);
    if (!in_file(off64, 56, size) || rd(buf + off64, 4) != SIG_EOCD64)
        return dg_err_set(err, DG_E_FORMAT, "%s: bad ZIP64 end-of-central-directory offset", path);
    *count = rd(buf + off64 + 32, 8);
    *cd_size = rd(buf + off64 + 40, 8);
    *cd_off = rd(buf + off64 + 48, 8);
    return DG_OK;
}

/* Replaces saturated 32-bit sizes/offset with the values of the ZIP64 extra field (id 1). */
static dg_code zip64_extra(const char *path, const uint8_t *ex, size_t ex_len, uint64_t *usize,
                           uint64_t *csize, uint64_t *loc, dg_err *err)
{
    uint64_t *fields[3] = {usize, csize, loc};
    for (size_t p = 0; p + 4 <= ex_len;) {
        uint64_t id = rd(ex + p, 2), len = rd(ex + p + 2, 2);
        if (len > ex_len - p - 4)
            break;
        if (id == 1) {
            size_t q = p + 4;
            for (int f = 0; f < 3; f++) {
                if (*fields[f] != 0xFFFFFFFF)
                    continue;
                if (q + 8 > p + 4 + len)
                    return dg_err_set(err, DG_E_FORMAT, "%s: short ZIP64 extra field", path);
                *fields[f] = rd(ex + q, 8);
                q += 8;
            }
            return DG_OK;
        }
        p += 4 + len;
    }
    if (*usize == 0xFFFFFFFF || *csize == 0xFFFFFFFF || *loc == 0xFFFFFFFF)
        return dg_err_set(err, DG_E_FORMAT, "%s: ZIP64 sizes without a ZIP64 extra field", path);
    return DG_OK;
}

dg_code dg_zip_open(dg_zip *z, const char *path, const uint8_t *buf, size_t size, dg_err *err)
{
    z->e = NULL;
    z->n = 0;
    uint64_t cd_off = 0, cd_size = 0, count = 0;
    dg_code rc = find_eocd(path, buf, size, &cd_off, &cd_size, &count, err);
    if (rc)
        return rc;
    if (!in_file(cd_off, cd_size, size) || count > cd_size / 46)
        return dg_err_set(err, DG_E_FORMAT, "%s: truncated zip (central directory out of range)", path);
    z->e = calloc(count ? count : 1, sizeof *z->e);
    if (!z->e)
        return dg_err_set(err, DG_E_NOMEM, "%s: out of memory for the zip directory", path);
    uint64_t p = cd_off, end = cd_off + cd_size;
    for (uint64_t i = 0; i < count; i++) {
        if (end - p < 46 || rd(buf + p, 4) != SIG_CENTRAL)
            return dg_err_set(err, DG_E_FORMAT, "%s: bad central directory entry %llu", path,
                              (unsigned long long)i);
        uint64_t method = rd(buf + p + 10, 2), csize = rd(buf + p + 20, 4), usize = rd(buf + p + 24, 4);
        uint64_t nlen = rd(buf + p + 28, 2), xlen = rd(buf + p + 30, 2), clen = rd(buf + p + 32, 2);
        uint64_t loc = rd(buf + p + 42, 4);
        if (46 + nlen + xlen + clen > end - p)
            return dg_err_set(err, DG_E_FORMAT, "%s: central directory entry %llu overruns the directory",
                              path, (unsigned long long)i);
        const char *name = (const char *)buf + p + 46;
        if ((rc = zip64_extra(path, buf + p + 46 + nlen, xlen, &usize, &csize, &loc, err)))
            return rc;
        if (method != 0)
            return dg_err_set(err, DG_E_UNSUPPORTED,
                              "%s: zip entry '%.*s' is compressed (method %llu); only stored entries "
                              "are supported",
                              path, (int)nlen, name, (unsigned long long)method);
        if (csize != usize)
            return dg_err_set(err, DG_E_FORMAT, "%s: stored zip entry '%.*s' has differing sizes", path,
                              (int)nlen, name);
        if (!in_file(loc, 30, size) || rd(buf + loc, 4) != SIG_LOCAL)
            return dg_err_set(err, DG_E_FORMAT, "%s: zip entry '%.*s': bad local header offset", path,
                              (int)nlen, name);
        uint64_t data = loc + 30 + rd(buf + loc + 26, 2) + rd(buf + loc + 28, 2);
        if (!in_file(data, usize, size))
            return dg_err_set(err, DG_E_FORMAT, "%s: truncated zip: entry '%.*s' runs past the end", path,
                              (int)nlen, name);
        z->e[z->n++] = (dg_zip_entry){name, (size_t)nlen, buf + data, usize};
        p += 46 + nlen + xlen + clen;
    }
    return DG_OK;
}

const dg_zip_entry *dg_zip_find(const dg_zip *z, const char *name)
{
    size_t len = strlen(name);
    for (int i = 0; i < z->n; i++)
        if (z->e[i].name_len == len && !memcmp(z->e[i].name, name, len))
            return &z->e[i];
    return NULL;
}

void dg_zip_free(dg_zip *z)
{
    if (!z)
        return;
    free(z->e);
    z->e = NULL;
    z->n = 0;
}
