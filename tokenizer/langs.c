/* DESIGN: ISO 639-1 <-> 639-3 for mapping the codes clients send (LibreTranslate: "de", "zh",
 * "zt" for Traditional Chinese) to the codes models use ("deu_Latn", ">>deu<<"). The second
 * 639-3 column is the individual language NLLB-200 and OPUS-MT use where 639-1 names a
 * macrolanguage (ar -> arb, fa -> pes, ms -> zsm, ...). Data plus two lookups. */
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "tokenizer/langs.h"

static const struct {
    const char *iso1, *iso3, *alt;
} table[] = {
    {"af", "afr", NULL}, {"am", "amh", NULL}, {"ar", "ara", "arb"}, {"as", "asm", NULL},
    {"az", "aze", "azj"}, {"ba", "bak", NULL}, {"be", "bel", NULL}, {"bg", "bul", NULL},
    {"bn", "ben", NULL}, {"bo", "bod", NULL}, {"br", "bre", NULL}, {"bs", "bos", NULL},
    {"ca", "cat", NULL}, {"cs", "ces", NULL}, {"cy", "cym", NULL}, {"da", "dan", NULL},
    {"de", "deu", NULL}, {"dz", "dzo", NULL}, {"el", "ell", NULL}, {"en", "eng", NULL},
    {"eo", "epo", NULL}, {"es", "spa", NULL}, {"et", "est", "ekk"}, {"eu", "eus", NULL},
    {"fa", "fas", "pes"}, {"ff", "ful", "fuv"}, {"fi", "fin", NULL}, {"fj", "fij", NULL},
    {"fo", "fao", NULL}, {"fr", "fra", NULL}, {"fy", "fry", NULL}, {"ga", "gle", NULL},
    {"gd", "gla", NULL}, {"gl", "glg", NULL}, {"gn", "grn", NULL}, {"gu", "guj", NULL},
    {"ha", "hau", NULL}, {"he", "heb", NULL}, {"hi", "hin", NULL}, {"hr", "hrv", NULL},
    {"ht", "hat", NULL}, {"hu", "hun", NULL}, {"hy", "hye", NULL}, {"id", "ind", NULL},
    {"ig", "ibo", NULL}, {"is", "isl", NULL}, {"it", "ita", NULL},
    {"ja", "jpn", NULL}, {"jv", "jav", NULL}, {"ka", "kat", NULL}, {"kk", "kaz", NULL},
    {"km", "khm", NULL}, {"kn", "kan", NULL}, {"ko", "kor", NULL}, {"ks", "kas", NULL},
    {"ku", "kur", "kmr"}, {"ky", "kir", NULL}, {"lb", "ltz", NULL}, {"lg", "lug", NULL},
    {"ln", "lin", NULL}, {"lo", "lao", NULL}, {"lt", "lit", NULL}, {"lv", "lav", "lvs"},
    {"mg", "mlg", "plt"}, {"mi", "mri", NULL}, {"mk", "mkd", NULL}, {"ml", "mal", NULL},
    {"mn", "mon", "khk"}, {"mr", "mar", NULL}, {"ms", "msa", "zsm"}, {"mt", "mlt", NULL},
    {"my", "mya", NULL}, {"nb", "nob", NULL}, {"ne", "nep", "npi"}, {"nl", "nld", NULL},
    {"nn", "nno", NULL}, {"no", "nor", "nob"}, {"ny", "nya", NULL}, {"oc", "oci", NULL},
    {"om", "orm", "gaz"}, {"or", "ori", "ory"}, {"pa", "pan", NULL}, {"pl", "pol", NULL},
    {"ps", "pus", "pbt"}, {"pt", "por", NULL}, {"qu", "que", "quy"}, {"ro", "ron", NULL},
    {"ru", "rus", NULL}, {"rw", "kin", NULL}, {"sa", "san", NULL}, {"sc", "srd", NULL},
    {"sd", "snd", NULL}, {"si", "sin", NULL}, {"sk", "slk", NULL}, {"sl", "slv", NULL},
    {"sm", "smo", NULL}, {"sn", "sna", NULL}, {"so", "som", NULL}, {"sq", "sqi", "als"},
    {"sr", "srp", NULL}, {"ss", "ssw", NULL}, {"st", "sot", NULL}, {"su", "sun", NULL},
    {"sv", "swe", NULL}, {"sw", "swa", "swh"}, {"ta", "tam", NULL}, {"te", "tel", NULL},
    {"tg", "tgk", NULL}, {"th", "tha", NULL}, {"ti", "tir", NULL}, {"tk", "tuk", NULL},
    {"tl", "tgl", NULL}, {"tn", "tsn", NULL}, {"tr", "tur", NULL}, {"ts", "tso", NULL},
    {"tt", "tat", NULL}, {"ug", "uig", NULL}, {"uk", "ukr", NULL}, {"ur", "urd", NULL},
    {"uz", "uzb", "uzn"}, {"vi", "vie", NULL}, {"wo", "wol", NULL}, {"xh", "xho", NULL},
    {"yi", "yid", "ydd"}, {"yo", "yor", NULL}, {"zh", "zho", "cmn"}, {"zu", "zul", NULL},
};

const char *dg_iso3_of(const char *iso1, const char **alt)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (!strcasecmp(table[i].iso1, iso1)) {
            if (alt)
                *alt = table[i].alt;
            return table[i].iso3;
        }
    return NULL;
}

const char *dg_iso1_of(const char *iso3)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strlen(table[i].iso1) == 2 &&
            (!strcasecmp(table[i].iso3, iso3) || (table[i].alt && !strcasecmp(table[i].alt, iso3))))
            return table[i].iso1;
    return NULL;
}
