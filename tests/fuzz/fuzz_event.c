/* Fuzz target: the WeChat push XML of wechat/event.h, both parsers on the
 * same input (the whole input, in a buffer of exactly its size): the outer
 * envelope (wx_event_envelope_parse) and the decrypted component event
 * (wx_event_parse).
 *
 * Checked beyond "no crash, no leak":
 *   - the envelope's Encrypt is NUL-terminated at its length;
 *   - an event that parses and that wx_event_build() accepts reads back
 *     through wx_event_parse() and builds the same XML again (the header
 *     promises "whatever this builds, wx_event_parse() reads back equal"). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "core/buf.h"
#include "core/err.h"
#include "wechat/event.h"
#include "core/banned.h"

static void check_envelope(const char *xml, size_t len)
{
    struct wx_event_envelope env;
    struct be_diag diag = {""};
    wx_event_envelope_init(&env);
    if (wx_event_envelope_parse(xml, len, &env, &diag) == BE_OK) {
        if (env.encrypt.len == 0 || strlen(env.encrypt.data) != env.encrypt.len)
            abort(); /* Encrypt is required, and a NUL in it would cut it short */
        if (strlen(env.appid) > WX_EVENT_APPID_MAX || strlen(env.to_user_name) > WX_EVENT_APPID_MAX)
            abort();
    }
    wx_event_envelope_release(&env);
}

static void check_event(const char *xml, size_t len)
{
    struct wx_event ev, back;
    struct be_diag diag = {""};
    struct buf built = BUF_INIT, rebuilt = BUF_INIT;
    if (wx_event_parse(xml, len, &ev, &diag) != BE_OK)
        return;
    if (ev.info_type[0] == '\0')
        abort(); /* InfoType is required */
    if (wx_event_build(&ev, &built, &diag) != BE_OK)
        goto out; /* unknown type, or a value build refuses: documented */
    if (wx_event_parse(built.data, built.len, &back, &diag) != BE_OK)
        abort(); /* the parser refuses what the builder wrote */
    if (back.type != ev.type || wx_event_build(&back, &rebuilt, &diag) != BE_OK)
        abort();
    if (built.len != rebuilt.len || memcmp(built.data, rebuilt.data, built.len) != 0)
        abort(); /* a field changed on the way through */
out:
    buf_release(&built);
    buf_release(&rebuilt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_input in = {data, size};
    size_t len;
    char *xml = fuzz_rest_exact(&in, &len);
    check_envelope(xml, len);
    check_event(xml, len);
    free(xml);
    return 0;
}
