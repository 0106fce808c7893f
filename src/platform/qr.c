/* QR codes as SVG (qr.h). */
#include "platform/qr.h"

#include <qrencode.h>
#include <string.h>

#include "core/err.h"
#include "core/banned.h"

/* Appends one row's dark runs as path segments. */
static void add_row(const QRcode *q, int y, struct buf *path)
{
    const unsigned char *row = q->data + (size_t)y * (size_t)q->width;
    int x = 0;
    while (x < q->width) {
        if (!(row[x] & 1)) {
            x++;
            continue;
        }
        int start = x;
        while (x < q->width && (row[x] & 1))
            x++;
        buf_addf(path, "M%d %dh%dv1h-%dz", start + PL_QR_QUIET, y + PL_QR_QUIET, x - start,
                 x - start);
    }
}

int pl_qr_svg(const char *text, unsigned scale, struct buf *out, int *ret_width)
{
    size_t len = text ? strlen(text) : 0;
    if (!len || len > PL_QR_MAX_TEXT || scale < 1 || scale > 32)
        return BE_INVALID_PARAMETER_VALUE;
    QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!q)
        return BE_INTERNAL;
    int side = q->width + 2 * PL_QR_QUIET;
    struct buf path = BUF_INIT;
    for (int y = 0; y < q->width; y++)
        add_row(q, y, &path);
    buf_addf(out,
             "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%u\" "
             "height=\"%u\" shape-rendering=\"crispEdges\" role=\"img\" aria-label=\"QR\">"
             "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"%s\"/></svg>",
             side, side, (unsigned)side * scale, (unsigned)side * scale, side, side, path.data);
    if (ret_width)
        *ret_width = q->width;
    buf_release(&path);
    QRcode_free(q);
    return BE_OK;
}
