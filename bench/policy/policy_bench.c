/* Policy decision benchmark: ns per decision of cam_decide() for a principal
 * holding the policies of a workload made by gen.mjs.
 *
 *     policy_bench WORKLOAD.json RESULT.json
 *
 * Three measurements over the workload's request mix (1024 requests, cycled):
 *   decide        cam_decide() on requests prepared beforehand, timed in
 *                 batches of BATCH decisions (clock_gettime around each batch;
 *                 the percentiles are over batches, in ns per decision);
 *   init+decide   the same with cam_eval_request_init() inside the batch: what
 *                 one API request costs from its strings to the answer;
 *   single        init+decide timed one by one (includes the clock's own cost,
 *                 reported separately), for an honest p99 of single decisions.
 * RESULT.json gets the figures and the decision of every request (so that
 * compare.mjs can check that cedar and casbin answer the same). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cam/policy.h"
#include "core/banned.h"

#define BATCH       16
#define MAX_SAMPLES 400000
#define BUDGET_NS   1500000000ull /* per measurement */
#define OWNER       100000000001ull
#define CALLER      100000000002ull
#define APPID       1250000000ull

struct workload {
    json_t *root;
    struct cam_policy_set *set;
    size_t nreq;
    struct cam_eval_input *in;
    struct cam_eval_request *req;
    double compile_us;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

struct stats {
    double p50, p99, mean;
    size_t n;
};

static struct stats percentiles(double *s, size_t n)
{
    struct stats st = {0, 0, 0, n};
    double sum = 0;
    qsort(s, n, sizeof(*s), cmp_double);
    for (size_t i = 0; i < n; i++)
        sum += s[i];
    st.p50 = s[n / 2];
    st.p99 = s[(size_t)((double)n * 0.99)];
    st.mean = sum / (double)n;
    return st;
}

static int load_policies(struct workload *w)
{
    json_t *docs = json_object_get(w->root, "cam");
    size_t n = json_array_size(docs);
    struct cam_policy_attachment *att = calloc(n ? n : 1, sizeof(*att));
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < n; i++) {
        const char *doc = json_string_value(json_array_get(docs, i));
        struct cam_policy_error err;
        if (!doc || cam_policy_parse(doc, strlen(doc), &att[i].policy, &err)) {
            fprintf(stderr, "policy %zu: %s %s\n", i, err.code, err.message);
            return -1;
        }
        att[i].policy_id = i + 1000;
        att[i].owner_uin = OWNER;
    }
    w->compile_us = n ? (double)(now_ns() - t0) / 1000.0 / (double)n : 0;
    int rc = cam_policy_set_new(att, n, &w->set, NULL);
    for (size_t i = 0; i < n; i++)
        cam_policy_free(att[i].policy);
    free(att);
    return rc;
}

static int load_requests(struct workload *w)
{
    json_t *reqs = json_object_get(w->root, "requests");
    w->nreq = json_array_size(reqs);
    w->in = calloc(w->nreq, sizeof(*w->in));
    w->req = calloc(w->nreq, sizeof(*w->req));
    for (size_t i = 0; i < w->nreq; i++) {
        json_t *r = json_array_get(reqs, i);
        struct cam_eval_input *in = &w->in[i];
        *in = (struct cam_eval_input){json_string_value(json_object_get(r, "action")),
                                      json_string_value(json_object_get(r, "resource")),
                                      OWNER,
                                      CALLER,
                                      APPID,
                                      {CAM_IP_NONE, {0}},
                                      (int64_t)json_integer_value(json_object_get(r, "now")),
                                      CAM_MFA_UNKNOWN,
                                      NULL,
                                      0};
        struct be_diag diag = {""};
        if (cam_ip_parse(json_string_value(json_object_get(r, "ip")), &in->source_ip) ||
            cam_eval_request_init(&w->req[i], in, &diag)) {
            fprintf(stderr, "request %zu: %s\n", i, diag.msg);
            return -1;
        }
    }
    return w->nreq ? 0 : -1;
}

static volatile int sink;

/* Batches of BATCH decisions on prepared requests. */
static struct stats bench_decide(const struct workload *w, double *samples)
{
    size_t n = 0, idx = 0;
    int acc = 0;
    uint64_t start = now_ns();
    while (n < MAX_SAMPLES && now_ns() - start < BUDGET_NS) {
        uint64_t t0 = now_ns();
        for (int k = 0; k < BATCH; k++, idx = (idx + 1) % w->nreq)
            acc += cam_decide(w->set, &w->req[idx]);
        samples[n++] = (double)(now_ns() - t0) / BATCH;
    }
    sink = acc;
    return percentiles(samples, n);
}

/* Batches of BATCH request preparations + decisions. */
static struct stats bench_init_decide(const struct workload *w, double *samples)
{
    size_t n = 0, idx = 0;
    int acc = 0;
    struct cam_eval_request req;
    uint64_t start = now_ns();
    while (n < MAX_SAMPLES && now_ns() - start < BUDGET_NS) {
        uint64_t t0 = now_ns();
        for (int k = 0; k < BATCH; k++, idx = (idx + 1) % w->nreq) {
            acc += cam_eval_request_init(&req, &w->in[idx], NULL);
            acc += cam_decide(w->set, &req);
        }
        samples[n++] = (double)(now_ns() - t0) / BATCH;
    }
    sink = acc;
    return percentiles(samples, n);
}

/* One init+decide per pair of clock readings. */
static struct stats bench_single(const struct workload *w, double *samples)
{
    size_t n = 0, idx = 0;
    int acc = 0;
    struct cam_eval_request req;
    uint64_t start = now_ns();
    while (n < MAX_SAMPLES && now_ns() - start < BUDGET_NS) {
        uint64_t t0 = now_ns();
        acc += cam_eval_request_init(&req, &w->in[idx], NULL);
        acc += cam_decide(w->set, &req);
        samples[n++] = (double)(now_ns() - t0);
        idx = (idx + 1) % w->nreq;
    }
    sink = acc;
    return percentiles(samples, n);
}

/* The cost of the two clock readings alone. */
static struct stats bench_clock(double *samples)
{
    for (size_t i = 0; i < 100000; i++) {
        uint64_t t0 = now_ns();
        samples[i] = (double)(now_ns() - t0);
    }
    return percentiles(samples, 100000);
}

static json_t *stats_json(struct stats s)
{
    return json_pack("{s:f,s:f,s:f,s:I}", "p50_ns", s.p50, "p99_ns", s.p99, "mean_ns", s.mean,
                     "samples", (json_int_t)s.n);
}

static int write_result(const struct workload *w, const char *path, struct stats d, struct stats id,
                        struct stats single, struct stats clk)
{
    json_t *decisions = json_array();
    size_t allow = 0;
    for (size_t i = 0; i < w->nreq; i++) {
        int r = cam_decide(w->set, &w->req[i]);
        allow += r == CAM_ALLOW;
        json_array_append_new(decisions, json_string(r == CAM_ALLOW ? "allow" : "deny"));
    }
    json_t *out = json_pack("{s:I,s:I,s:f,s:o,s:o,s:o,s:f,s:I,s:o}", "policies",
                            (json_int_t)cam_policy_set_count(w->set), "statements",
                            (json_int_t)(cam_policy_set_count(w->set) * 5), "compile_us_per_policy",
                            w->compile_us, "decide", stats_json(d), "init_decide", stats_json(id),
                            "single", stats_json(single), "clock_overhead_ns", clk.p50, "allowed",
                            (json_int_t)allow, "decisions", decisions);
    int rc = json_dump_file(out, path, JSON_COMPACT);
    json_decref(out);
    return rc;
}

static void print_stats(const char *name, struct stats s)
{
    printf("  %-12s p50 %8.1f ns   p99 %8.1f ns   mean %8.1f ns   (%zu samples)\n", name, s.p50,
           s.p99, s.mean, s.n);
}

int main(int argc, char **argv)
{
    struct workload w = {0};
    json_error_t jerr;
    int rc = 1;
    double *samples = malloc(MAX_SAMPLES * sizeof(*samples));
    if (argc != 3) {
        fprintf(stderr, "usage: %s WORKLOAD.json RESULT.json\n", argv[0]);
        goto out;
    }
    w.root = json_load_file(argv[1], 0, &jerr);
    if (!w.root || load_policies(&w) || load_requests(&w)) {
        fprintf(stderr, "%s: cannot load the workload (%s)\n", argv[1], w.root ? "" : jerr.text);
        goto out;
    }
    for (size_t i = 0; i < w.nreq; i++) /* warm up */
        sink += cam_decide(w.set, &w.req[i]);
    struct stats d = bench_decide(&w, samples);
    struct stats id = bench_init_decide(&w, samples);
    struct stats single = bench_single(&w, samples);
    struct stats clk = bench_clock(samples);
    printf("bindery: %zu policies x 5 statements, %zu requests; compile %.1f us/policy\n",
           cam_policy_set_count(w.set), w.nreq, w.compile_us);
    print_stats("decide", d);
    print_stats("init+decide", id);
    print_stats("single", single);
    printf("  (single includes the clock pair, p50 %.1f ns)\n", clk.p50);
    rc = write_result(&w, argv[2], d, id, single, clk) ? 1 : 0;
out:
    cam_policy_set_free(w.set);
    free(w.in);
    free(w.req);
    free(samples);
    json_decref(w.root);
    return rc;
}
