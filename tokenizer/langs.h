/* DESIGN: ISO 639 code mapping for the language API (see langs.c). */
#ifndef DG_LANGS_H
#define DG_LANGS_H

/* The ISO 639-3 code of a 639-1 code and (in *alt, may be NULL) the individual language models
 * use for a macrolanguage; NULL when unknown. Case-insensitive. */
const char *dg_iso3_of(const char *iso1, const char **alt);
/* The ISO 639-1 code of a 639-3 code (or of its individual language); NULL when none. */
const char *dg_iso1_of(const char *iso3);

#endif
