/* Fuzz target: how the WeChat API client (wechat/client.h) reads an
 * answer. A transport plugged into the client (no network) answers HTTP 200
 * with the input as the body; the first byte picks the endpoint (byte % 6),
 * the rest is the body. One attempt per call, so an answer that asks for a
 * retry costs no sleep.
 *
 * Checked beyond "no crash, no leak": a call fails exactly when the result
 * says so, and an errcode comes back only with WX_FAIL_ERRCODE; what a call
 * returns stays within the header's ceilings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "core/buf.h"
#include "core/err.h"
#include "wechat/client.h"
#include "core/banned.h"

#define APPID "wx0123456789abcdef"
#define TOKEN "component-token"

struct answer {
    const uint8_t *body;
    size_t len;
};

static int answer_send(void *ctx, const char *url, const char *body, size_t len,
                       unsigned connect_timeout_ms, unsigned timeout_ms, size_t max_body,
                       long *ret_status, struct buf *ret_body, struct be_diag *diag)
{
    const struct answer *a = ctx;
    (void)url;
    (void)body;
    (void)len;
    (void)connect_timeout_ms;
    (void)timeout_ms;
    if (a->len > max_body)
        return be_fail(diag, BE_BODY_TOO_LARGE, "answer over %zu bytes", max_body);
    buf_add(ret_body, a->body, a->len);
    *ret_status = 200;
    return BE_OK;
}

static void check_result(int rc, const struct wx_result *res)
{
    if ((rc == BE_OK) != (res->kind == WX_FAIL_NONE))
        abort();
    if ((res->errcode != 0) != (res->kind == WX_FAIL_ERRCODE))
        abort();
    if (strnlen(res->errmsg, sizeof(res->errmsg)) == sizeof(res->errmsg))
        abort();
}

static void check_authorization(const struct wx_authorization *a)
{
    if (a->nfunc > WX_FUNC_MAX || strlen(a->authorizer_appid) > WX_APPID_MAX ||
        strlen(a->authorizer_access_token) > WX_TOKEN_MAX ||
        strlen(a->authorizer_refresh_token) > WX_TOKEN_MAX)
        abort();
}

static void call(struct wx_client *cl, unsigned endpoint)
{
    struct wx_result res;
    int rc;
    wx_result_clear(&res);
    switch (endpoint) {
    case 0: {
        struct wx_component_token t;
        rc = wx_client_component_token(cl, APPID, "secret", "ticket@@@x", &t, &res, NULL);
        if (rc == BE_OK && (strlen(t.access_token) > WX_TOKEN_MAX || t.expires_in < 1))
            abort();
        break;
    }
    case 1: {
        struct wx_preauthcode p;
        rc = wx_client_create_preauthcode(cl, TOKEN, APPID, &p, &res, NULL);
        if (rc == BE_OK && strlen(p.pre_auth_code) > WX_CODE_MAX)
            abort();
        break;
    }
    case 2: {
        struct wx_authorization a;
        rc = wx_client_query_auth(cl, TOKEN, APPID, "queryauthcode@@@x", &a, &res, NULL);
        if (rc == BE_OK)
            check_authorization(&a);
        break;
    }
    case 3: {
        struct wx_authorizer_token t;
        rc = wx_client_authorizer_token(cl, TOKEN, APPID, "wxfedcba9876543210", "refresh", &t, &res,
                                        NULL);
        break;
    }
    case 4: {
        struct wx_authorizer_info info;
        rc = wx_client_get_authorizer_info(cl, TOKEN, APPID, "wxfedcba9876543210", &info, &res,
                                           NULL);
        if (rc == BE_OK)
            check_authorization(&info.authorization);
        break;
    }
    default: {
        struct wx_authorizer_list list;
        memset(&list, 0, sizeof(list));
        rc = wx_client_get_authorizer_list(cl, TOKEN, APPID, 0, WX_AUTHORIZER_LIST_MAX, &list, &res,
                                           NULL);
        if (rc == BE_OK && (list.n > WX_AUTHORIZER_LIST_MAX || (list.n && !list.items)))
            abort();
        wx_authorizer_list_release(&list);
        break;
    }
    }
    check_result(rc, &res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    struct answer a = {data + 1, size - 1};
    struct wx_client_options o = {
        .base_url = "http://wechat.test",
        .max_attempts = 1,
        .backoff_ms = 1,
        .transport = answer_send,
        .transport_ctx = &a,
    };
    struct wx_client *cl = NULL;
    if (wx_client_new(&o, &cl, NULL))
        abort();
    call(cl, data[0] % 6);
    wx_client_free(cl);
    return 0;
}
