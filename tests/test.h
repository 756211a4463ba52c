/* Minimal test harness: CHECK-style assertions that count passes and failures, and a closing
 * line "N passed, N failed" that CI reads. Each tests/test_*.c is one executable run by ctest;
 * main() calls the test functions and returns test_summary(). */
#ifndef DG_TEST_H
#define DG_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_passed, test_failed;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (cond) {                                                                  \
            test_passed++;                                                           \
        } else {                                                                     \
            test_failed++;                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

#define CHECK_MSG(cond, ...)                                                   \
    do {                                                                       \
        if (cond) {                                                            \
            test_passed++;                                                     \
        } else {                                                               \
            test_failed++;                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
        }                                                                      \
    } while (0)

#define CHECK_INT_EQ(a, b)                                                                \
    do {                                                                                  \
        long long va_ = (long long)(a), vb_ = (long long)(b);                             \
        CHECK_MSG(va_ == vb_, "%s = %lld, %s = %lld", #a, va_, #b, vb_);                  \
    } while (0)

#define CHECK_STR_EQ(a, b)                                                                \
    do {                                                                                  \
        const char *sa_ = (a), *sb_ = (b);                                                \
        CHECK_MSG(sa_ && sb_ && strcmp(sa_, sb_) == 0, "%s = \"%s\", %s = \"%s\"", #a,    \
                  sa_ ? sa_ : "(null)", #b, sb_ ? sb_ : "(null)");                        \
    } while (0)

/* substring check: used to pin error messages to the specific failure */
#define CHECK_CONTAINS(hay, needle)                                                       \
    do {                                                                                  \
        const char *h_ = (hay), *n_ = (needle);                                           \
        CHECK_MSG(h_ && strstr(h_, n_), "\"%s\" does not contain \"%s\"", h_ ? h_ : "(null)", n_); \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                             \
    do {                                                                                  \
        double da_ = (a), db_ = (b);                                                      \
        CHECK_MSG(fabs(da_ - db_) <= (tol), "%s = %g, %s = %g, tol %g", #a, da_, #b, db_, \
                  (double)(tol));                                                         \
    } while (0)

/* A raw float32 file written by a reference script (PyTorch .tofile()); *n floats (n may be
 * NULL). A missing file is a failed check and NULL. */
static inline float *test_read_f32(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    CHECK_MSG(f != NULL, "%s", path);
    if (n)
        *n = 0;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    float *p = malloc((size_t)len);
    CHECK(p && fread(p, 1, (size_t)len, f) == (size_t)len);
    fclose(f);
    if (n)
        *n = (size_t)len / sizeof(float);
    return p;
}

static inline int test_summary(void)
{
    printf("%d passed, %d failed\n", test_passed, test_failed);
    return test_failed ? 1 : 0;
}

#endif
