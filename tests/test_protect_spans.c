/* text/protect.c on the demo model's tokenizer (and, for <unk>, a real OPUS-MT one): which
 * spans are found (kinds and bytes, written by hand), the masked text the model sees, and
 * restoring: numbers the model repeats, invents or loses (without an alignment: before the
 * final punctuation), so that each span comes out exactly once. */
#include <stdlib.h>

#include "tests/test.h"
#include "text/protect.h"

static const dg_tokenizer *tok;

/* want: "kind:text|kind:text|..." in order; masked: the model's input */
static void check_spans(const char *text, const char *want, const char *masked)
{
    dg_protect p;
    dg_err err = {0};
    CHECK_INT_EQ(dg_protect_text(tok, text, strlen(text), &p, &err), DG_OK);
    char got[1024] = "";
    for (int i = 0; i < p.n; i++) {
        size_t o = strlen(got);
        snprintf(got + o, sizeof got - o, "%s%s:%.*s", i ? "|" : "",
                 dg_prot_kind_name(p.spans[i].kind), (int)p.spans[i].len,
                 p.text + p.spans[i].start);
    }
    CHECK_MSG(!strcmp(got, want), "%s: spans %s, want %s", text, got, want);
    CHECK_MSG(p.masked && !strcmp(p.masked, masked), "%s: masked '%s', want '%s'", text,
              p.masked ? p.masked : "(null)", masked);
    dg_protect_free(&p);
}

static void check_restore(const char *text, const char *translation, const char *want)
{
    dg_protect p;
    dg_err err = {0};
    char *out = NULL;
    CHECK_INT_EQ(dg_protect_text(tok, text, strlen(text), &p, &err), DG_OK);
    CHECK_INT_EQ(dg_protect_restore(&p, tok, translation, NULL, &out, NULL, &err), DG_OK);
    CHECK_MSG(out && !strcmp(out, want), "%s + '%s': got '%s', want '%s'", text, translation,
              out ? out : "(null)", want);
    free(out);
    dg_protect_free(&p);
}

/* forced: "start:len,start:len" ranges; detect as dg_protect_text_forced's; then restoring
 * translation gives want */
static void check_forced(const char *text, const char *forced, bool detect, const char *spans,
                         const char *masked, const char *translation, const char *want)
{
    dg_prot_range f[8];
    int nf = 0;
    for (const char *q = forced; *q && nf < 8; nf++) {
        char *e;
        f[nf].start = strtoul(q, &e, 10);
        f[nf].len = strtoul(e + 1, &e, 10);
        q = *e ? e + 1 : e;
    }
    dg_protect p;
    dg_err err = {0};
    char *out = NULL;
    CHECK_INT_EQ(dg_protect_text_forced(tok, text, strlen(text), detect, f, nf, &p, &err), DG_OK);
    char got[1024] = "";
    for (int i = 0; i < p.n; i++) {
        size_t o = strlen(got);
        snprintf(got + o, sizeof got - o, "%s%s:%.*s", i ? "|" : "",
                 dg_prot_kind_name(p.spans[i].kind), (int)p.spans[i].len,
                 p.text + p.spans[i].start);
    }
    CHECK_MSG(!strcmp(got, spans), "%s [%s]: spans %s, want %s", text, forced, got, spans);
    CHECK_MSG(p.masked && !strcmp(p.masked, masked), "%s [%s]: masked '%s', want '%s'", text,
              forced, p.masked ? p.masked : "(null)", masked);
    CHECK_INT_EQ(dg_protect_restore(&p, tok, translation, NULL, &out, NULL, &err), DG_OK);
    CHECK_MSG(out && !strcmp(out, want), "%s + '%s': got '%s', want '%s'", text, translation,
              out ? out : "(null)", want);
    free(out);
    dg_protect_free(&p);
}

int main(void)
{
    dg_err err = {0};
    /* a real OPUS-MT vocabulary without byte fallback: what it lacks is <unk> */
    dg_tokenizer *t = dg_tokenizer_load(DG_SHARED_DIR "/tokenizers/opus-mt-en-mg", &err);
    CHECK_MSG(t != NULL, "%s", err.msg);
    if (!t)
        return 1;
    tok = t;
    check_spans("Naïve café 🎉 and ✨", "unknown:🎉", "Naïve café 1 and ✨");
    dg_tokenizer_free(t);
    /* the demo model's vocabulary (byte fallback) */
    t = dg_tokenizer_load(DG_SOURCE_DIR "/models/demo-en-de", &err);
    CHECK_MSG(t != NULL, "%s", err.msg);
    if (!t)
        return 1;
    tok = t;
    check_spans("Open file", "", "Open file");
    check_spans("Visit https://example.com/help.", "url:https://example.com/help",
                "Visit 1.");
    check_spans("Write to admin@example.org today.", "email:admin@example.org",
                "Write to 1 today.");
    check_spans("Error %1$s in line %2$d", "placeholder:%1$s|placeholder:%2$d",
                "Error %1$s in line %2$d");  /* spelled by the vocabulary: kept as they are */
    check_spans("Hi {name}, %(n)s and %s or %5.2f, $(HOME) ${USER} 100%%",
                "placeholder:{name}|placeholder:%(n)s|placeholder:%s|placeholder:%5.2f|"
                "placeholder:$(HOME)|placeholder:${USER}|number:100|placeholder:%%",
                "Hi {name}, %(n)s and %s or %5.2f, $(HOME) ${USER} 100%%");
    check_spans("Open report.pdf, not e.g. U.S. now", "file:report.pdf",
                "Open 1, not e.g. U.S. now");
    check_spans("It is 5 MB, 25 °C and $20 or 3.5kg", "number:5 MB|number:25 °C|number:$20|"
                "number:3.5kg", "It is 5 MB, 25 °C and $20 or 3.5kg");  /* all spelled */
    /* byte fallback: ï, emoji and CJK are written with byte pieces, é is a piece */
    check_spans("Naïve café 🎉 東京.txt", "unknown:Naïve|unknown:🎉|unknown:東京.txt",
                "1 café 2 3");
    check_spans("Call 555-1234 or X1", "number:555-1234|number:X1", "Call 555-1234 or X1");
    check_spans("({name})", "placeholder:{name}", "({name})");
    check_spans("a{x}{y}b", "placeholder:{x}|placeholder:{y}", "a{x}{y}b");
    /* a quote after a number is not glued to it, an ordinal's suffix stays text, Qt's %1 is a
     * placeholder */
    check_spans("Set “1” on the 7th, %1 of %2", "number:1|number:7|placeholder:%1|placeholder:%2",
                "Set “1” on the 7th, %1 of %2");
    check_restore("On the 7th", "Am 7. Tag", "Am 7. Tag");
    /* labels skip the numbers the text spells itself (1 and 2 here) */
    check_spans("Step 1 of 2: 🎉 and ✨", "number:1|number:2|unknown:🎉|unknown:✨",
                "Step 1 of 2: 3 and 4");

    check_restore("Error %1$s in line %2$d", "Fehler %1$s in Zeile %2$d",
                  "Fehler %1$s in Zeile %2$d");
    check_restore("Error %1$s in line %2$d", "Fehler %2$d in Zeile %1$s",
                  "Fehler %2$d in Zeile %1$s");
    /* literal spans: a repeat is dropped, a lost one goes before the final punctuation, a
     * number the model made up or changed is dropped, a span the text has twice comes twice */
    check_restore("Copy %s now.", "Kopie %s %s jetzt.", "Kopie %s jetzt.");
    check_restore("Copy %s now.", "Kopie jetzt.", "Kopie jetzt %s.");
    check_restore("Version 3.0 is out", "Version 3,0 ist 12 da", "Version, ist da 3.0");
    check_restore("%s and %s", "%s und %s", "%s und %s");
    check_restore("Error %1$s", "Fehler %s %1$s bei 50 % der {x}", "Fehler %1$s bei % der");
    check_restore("Step 1 of 2: 🎉", "Schritt 1 von 2: 3", "Schritt 1 von 2: 🎉");
    /* repeated: the first kept; invented: dropped; lost: before the final punctuation */
    check_restore("Visit https://a.org today.", "Besuchen 1 heute 1.",
                  "Besuchen https://a.org heute.");
    check_restore("Visit https://a.org today.", "Besuchen 7 heute.", "Besuchen heute https://a.org.");
    check_restore("Visit https://a.org today.", "", "https://a.org");
    check_restore("Open file", "Datei 5 öffnen", "Datei 5 öffnen");  /* no spans: untouched */
    /* forced ranges (text/html.h's <code> text): a forced range replaces the detected spans
     * it overlaps, sits inside a word when asked, and comes back exactly once */
    check_forced("Run make -j2 now.", "4:8", true, "forced:make -j2", "Run 1 now.",
                 "Führe 1 jetzt aus.", "Führe make -j2 jetzt aus.");
    check_forced("See https://a.org/x and x.txt", "4:13", true, "forced:https://a.org|file:x.txt",
                 "See 1/x and 2", "Siehe 1/x und 2", "Siehe https://a.org/x und x.txt");
    check_forced("unbelievable", "2:6", true, "forced:believ", "un 1 able", "un 1 able",
                 "unbelievable");
    /* without detection numbers are still spans (kept as themselves): every digit run the
     * model writes is a span or a label, and comes out once */
    check_forced("Call foo() at 5 pm, see x.org", "5:5", false, "forced:foo()|number:5",
                 "Call 1 at 5 pm, see x.org", "Ruf um 5 Uhr, siehe x.org 5",
                 "Ruf um 5 Uhr, siehe x.org foo()");
    check_forced("a b", "0:1,2:1", true, "forced:a|forced:b", "1 2", "2 1", "b a");
    dg_protect bad;
    dg_prot_range over[] = {{2, 5}};
    CHECK_INT_EQ(dg_protect_text_forced(tok, "abc", 3, true, over, 1, &bad, &err), DG_E_INPUT);
    dg_tokenizer_free(t);
    return test_summary();
}
