/* A QR code for the terminal (libqrencode), drawn with half-block
 * characters so that one text line holds two rows of modules: `bindery
 * login` shows the verification URL this way, for a phone to scan. */
#ifndef BINDERY_CLI_QR_H
#define BINDERY_CLI_QR_H

#include "core/buf.h"
#include "core/err.h"

/* Appends text's QR code (error correction level L, 2-module quiet zone)
 * as UTF-8 lines to out; light modules are drawn, dark ones left blank, as
 * `qrencode -t UTF8` does for dark terminals. BE_INVALID_PARAMETER when
 * text does not fit in a QR code. */
int cli_qr_render(const char *text, struct buf *out);

#endif
