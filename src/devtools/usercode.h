/* RFC 8628 user codes: 8 letters from an alphabet of 20 consonants (no
 * vowels, so no words; no I/O/U/Y confusion), shown as XXXX-XXXX. 20^8 is
 * about 2.6e10 codes, and wrong entries are throttled, which keeps guessing
 * a live code out of reach (RFC 8628 §5.1). Pure functions. */
#ifndef BINDERY_DEVTOOLS_USERCODE_H
#define BINDERY_DEVTOOLS_USERCODE_H

#include <stddef.h>

#define USERCODE_ALPHABET    "BCDFGHJKLMNPQRSTVWXZ"
#define USERCODE_LEN         8  /* letters, without the dash */
#define USERCODE_DISPLAY_LEN 9  /* XXXX-XXXX */
#define USERCODE_INPUT_MAX   32 /* longest text accepted for normalisation */

/* A fresh random code (uniform over the alphabet), USERCODE_LEN letters +
 * NUL, in its stored (undashed) form. */
void usercode_generate(char out[USERCODE_LEN + 1]);

/* The stored form of what a user typed: letters upper-cased, dashes and
 * blanks dropped (RFC 8628 §6.1: case-insensitive, punctuation ignored).
 * BE_INVALID_PARAMETER_VALUE (out untouched) when in is NULL, longer than
 * USERCODE_INPUT_MAX, holds any other character, a letter outside the
 * alphabet, or does not come to exactly USERCODE_LEN letters. */
int usercode_normalize(const char *in, char out[USERCODE_LEN + 1]);

/* "BCDFGHJK" -> "BCDF-GHJK". code must be a normalised code. */
void usercode_display(const char *code, char out[USERCODE_DISPLAY_LEN + 1]);

#endif
