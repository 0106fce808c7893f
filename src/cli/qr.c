#include "cli/qr.h"

#include <qrencode.h>
#include <stdbool.h>
#include <string.h>

#include "core/banned.h"

#define QUIET 2

static bool dark(const QRcode *q, int x, int y)
{
    if (x < 0 || y < 0 || x >= q->width || y >= q->width)
        return false; /* the quiet zone is light */
    return q->data[y * q->width + x] & 1;
}

int cli_qr_render(const char *text, struct buf *out)
{
    QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_L, QR_MODE_8, 1);
    if (!q)
        return BE_INVALID_PARAMETER;
    for (int y = -QUIET; y < q->width + QUIET; y += 2) {
        for (int x = -QUIET; x < q->width + QUIET; x++) {
            bool top = !dark(q, x, y), bottom = y + 1 < q->width + QUIET && !dark(q, x, y + 1);
            buf_adds(out, top && bottom ? "\u2588" : top ? "\u2580" : bottom ? "\u2584" : " ");
        }
        buf_addch(out, '\n');
    }
    QRcode_free(q);
    return BE_OK;
}
