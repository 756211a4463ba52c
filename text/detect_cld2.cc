/* DESIGN: the thin C++ shell around libcld2 and libexttextcat (see detect.h). CLD2 is plain C++
 * without exceptions of its own, but std::vector may throw: every entry point catches
 * everything so no exception unwinds through C frames. CLD2's and textcat's codes are ISO 639-1
 * except for a few legacy and regional names, mapped here to the codes translation models use.
 * textcat_ClassifyFull only reads the shared profiles (its textcat_Classify writes a buffer in
 * the handle and is not used). */
#include "text/detect.h"

#include <cstdio>  /* before cld2: its header uses FILE without including it */

#include <cld2/public/compact_lang_det.h>
#include <cld2/public/encodings.h>
#include <cld2/internal/lang_script.h>
#include <textcat.h>

#include <climits>
#include <cstring>
#include <new>

/* textcat judges texts up to this long: beyond it CLD2's scores are dense enough, and textcat
 * would read only the beginning of a longer text */
#define SHORT_TEXT 512

static void model_code(const char *name, char *out, size_t size)
{
    static const struct {
        const char *from, *iso;
    } legacy[] = {
        {"iw", "he"}, {"jw", "jv"}, {"zh-Hant", "zt"}, {"zh-TW", "zt"},  /* zt: LibreTranslate's */
    };
    for (const auto &m : legacy) {
        size_t n = strlen(m.from);
        if (!strncmp(name, m.from, n) && (name[n] == 0 || name[n] == '-')) {
            snprintf(out, size, "%s", m.iso);
            return;
        }
    }
    /* textcat's "es--utf8", "zh-CN-utf8", "uz-Cyrl-utf8": the language before the first '-' */
    snprintf(out, size, "%.*s", (int)strcspn(name, "-"), name);
}

namespace {
struct guesses {
    dg_lang_guess g[2 * DG_DETECT_MAX + 8];
    int n = 0;
    bool has(const char *code) const
    {
        for (int i = 0; i < n; i++)
            if (!strcmp(g[i].code, code))
                return true;
        return false;
    }
    void add(const char *code, double confidence)
    {
        if (n == (int)(sizeof g / sizeof g[0]) || has(code))
            return;
        snprintf(g[n].code, sizeof g[n].code, "%.7s", code);
        g[n].confidence = n && g[n - 1].confidence < confidence ? g[n - 1].confidence : confidence;
        n++;
    }
};
}  // namespace

/* The profiles, loaded once (never freed: detection may run until exit). */
static void *textcat()
{
    static void *h = special_textcat_Init(DG_TEXTCAT_DIR "/fpdb.conf", DG_TEXTCAT_DIR "/");
    return h;
}

/* textcat's languages for s, best first, all within its 3% threshold of the best; none when it
 * finds the text too short or cannot tell more than five apart. */
static int textcat_guess(void *h, const char *s, size_t len, char codes[][8], int max)
{
    candidate_t *c = textcat_GetClassifyFullOutput(h);
    if (!c)
        throw std::bad_alloc();
    int k = textcat_ClassifyFull(h, s, len, c), n = 0;
    for (int i = 0; i < k && n < max; i++)
        model_code(c[i].name, codes[n++], 8);
    textcat_ReleaseClassifyFullOutput(h, c);
    return n;
}

extern "C" int dg_detect_language(const char *s, size_t len, dg_lang_filter accept, void *ctx,
                                  dg_lang_guess *out, int max, dg_err *err)
{
    if (len > INT_MAX)
        return dg_err_set(err, DG_E_INPUT, "text of %zu bytes is too long to detect", len), -1;
    if (max > DG_DETECT_MAX)
        max = DG_DETECT_MAX;
    try {
        void *tc = textcat();
        if (!tc)
            return dg_err_set(err, DG_E_IO, "language detection: cannot load libexttextcat's "
                              "profiles from %s (package libexttextcat-data)", DG_TEXTCAT_DIR),
                   -1;
        CLD2::CLDHints hints = {NULL, NULL, CLD2::UNKNOWN_ENCODING, CLD2::UNKNOWN_LANGUAGE};
        CLD2::Language lang3[3];
        int percent3[3], text_bytes = 0, valid = 0;
        double score3[3];
        bool reliable = false;
        /* best effort: short strings (a button label) get a guess instead of "unknown" */
        CLD2::ExtDetectLanguageSummaryCheckUTF8(s, (int)len, true, &hints,
                                                CLD2::kCLDFlagBestEffort, lang3, percent3, score3,
                                                NULL, &text_bytes, &reliable, &valid);
        if ((size_t)valid < len)
            return dg_err_set(err, DG_E_INPUT, "text is not valid UTF-8 (byte %d)", valid), -1;
        guesses cld;
        for (int i = 0; i < 3; i++)
            if (lang3[i] != CLD2::UNKNOWN_LANGUAGE && lang3[i] != CLD2::TG_UNKNOWN_LANGUAGE &&
                percent3[i] > 0) {
                char code[8];
                model_code(CLD2::LanguageCode(lang3[i]), code, sizeof code);
                cld.add(code, percent3[i]);
            }
        if (!cld.n)  /* no letters CLD2 could judge */
            return 0;
        char tcl[5][8];
        int k = len <= SHORT_TEXT ? textcat_guess(tc, s, len, tcl, 5) : 0;
        bool tc_has_cld = false;
        for (int i = 0; i < k; i++)
            tc_has_cld |= !strcmp(tcl[i], cld.g[0].code);
        /* textcat's candidates share the confidence: it cannot tell them apart */
        guesses all;
        if (k && !tc_has_cld)
            for (int i = 0; i < k; i++)
                all.add(tcl[i], 100.0 / k);
        for (int i = 0; i < cld.n; i++)
            all.add(cld.g[i].code, cld.g[i].confidence);
        for (int i = 0; i < k; i++)
            all.add(tcl[i], 100.0 / k);
        int n = 0;
        for (int pass = accept ? 0 : 1; pass < 2 && !n; pass++)
            for (int i = 0; i < all.n && n < max; i++)
                if (pass || accept(all.g[i].code, ctx))
                    out[n++] = all.g[i];
        return n;
    } catch (const std::bad_alloc &) {
        return dg_err_set(err, DG_E_NOMEM, "language detection: out of memory"), -1;
    } catch (...) {
        return dg_err_set(err, DG_E_INTERNAL, "language detection failed"), -1;
    }
}
