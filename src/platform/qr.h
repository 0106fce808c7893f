/* QR codes as inline SVG, with libqrencode: what the PC authorization page
 * and the mp console login show. */
#ifndef BINDERY_PLATFORM_QR_H
#define BINDERY_PLATFORM_QR_H

#include <stddef.h>

#include "core/buf.h"

/* Longest text encoded (the phone URLs are far shorter). */
#define PL_QR_MAX_TEXT 1024
/* Light modules around the symbol (the standard's quiet zone). */
#define PL_QR_QUIET 4

/* Appends an <svg> element of the QR code of text (error correction level
 * M, byte mode), each module `scale` pixels wide (1..32), to out: a white
 * background and one black <path> whose runs are whole modules, so that a
 * scanner reads it at any size. BE_INVALID_PARAMETER_VALUE for an empty or
 * over-long text or a bad scale (out untouched), BE_INTERNAL if the encoder
 * fails. ret_width (may be NULL) gets the symbol's width in modules, quiet
 * zone excluded. */
int pl_qr_svg(const char *text, unsigned scale, struct buf *out, int *ret_width);

#endif
