/* DESIGN: the thin C++ shell around libcld2 (see detect.h). CLD2 is plain C++ without
 * exceptions of its own, but std::vector may throw: every entry point catches everything so no
 * exception unwinds through C frames. CLD2's own codes are ISO 639-1 except for a few legacy
 * Google codes, mapped here to the codes translation models use. */
#include "text/detect.h"

#include <cstdio>  /* before cld2: its header uses FILE without including it */

#include <cld2/public/compact_lang_det.h>
#include <cld2/public/encodings.h>
#include <cld2/internal/lang_script.h>

#include <climits>
#include <cstring>
#include <new>

static const char *model_code(const char *cld)
{
    static const struct {
        const char *cld, *iso;
    } legacy[] = {
        {"iw", "he"}, {"jw", "jv"}, {"zh-Hant", "zt"},  /* zt: LibreTranslate's code */
    };
    for (const auto &m : legacy)
        if (!strcmp(cld, m.cld))
            return m.iso;
    return cld;
}

extern "C" int dg_detect_language(const char *s, size_t len, dg_lang_guess *out, int max,
                                  dg_err *err)
{
    if (len > INT_MAX)
        return dg_err_set(err, DG_E_INPUT, "text of %zu bytes is too long to detect", len), -1;
    if (max > DG_DETECT_MAX)
        max = DG_DETECT_MAX;
    try {
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
        int n = 0;
        for (int i = 0; i < 3 && n < max; i++) {
            if (lang3[i] == CLD2::UNKNOWN_LANGUAGE || lang3[i] == CLD2::TG_UNKNOWN_LANGUAGE ||
                percent3[i] <= 0)
                continue;
            snprintf(out[n].code, sizeof out[n].code, "%s",
                     model_code(CLD2::LanguageCode(lang3[i])));
            out[n].confidence = percent3[i];
            n++;
        }
        return n;
    } catch (const std::bad_alloc &) {
        return dg_err_set(err, DG_E_NOMEM, "language detection: out of memory"), -1;
    } catch (...) {
        return dg_err_set(err, DG_E_INTERNAL, "language detection failed"), -1;
    }
}
