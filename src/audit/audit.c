#include "audit/audit.h"

#include "core/err.h"
#include "core/timeutil.h"
#include "core/banned.h"

int audit_record(struct store_conn *c, const struct req_meta *meta, const struct audit_entry *e)
{
    int64_t now = meta && meta->now ? meta->now : time_now();
    return store_exec(c,
                      "INSERT INTO audit_log (at, owner_uin, uin, action, result, detail,"
                      " request_id, source_ip) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                      SV_ARGS(SV_I64(now), e->owner_uin ? SV_I64(e->owner_uin) : SV_NULL,
                              e->uin ? SV_I64(e->uin) : SV_NULL, SV_TEXT(e->action),
                              SV_TEXT(e->result), SV_TEXT(e->detail),
                              SV_TEXT(meta ? meta->request_id : NULL),
                              SV_TEXT(meta ? meta->source_ip : NULL)),
                      NULL);
}

struct record_ctx {
    const struct req_meta *meta;
    const struct audit_entry *e;
};

static int record_fn(struct store_conn *c, void *arg)
{
    struct record_ctx *ctx = arg;
    return audit_record(c, ctx->meta, ctx->e);
}

int audit_record_now(struct app *app, const struct req_meta *meta, const struct audit_entry *e)
{
    struct record_ctx ctx = {meta, e};
    return store_run(app->store, record_fn, &ctx);
}
