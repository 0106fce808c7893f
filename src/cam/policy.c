/* CAM policy language 2.0. Three stages, in this order in the file:
 *
 *   1. parsing: length and URL-decoding, jansson (duplicate keys refused), a
 *      walk over the tree that keeps the path of the element being checked so
 *      that an error can be located in the text (line, column);
 *   2. compilation into `struct cam_policy`: every string becomes a pattern
 *      of tokens (literal, `*`, `?`, `${variable}`) classified for a fast path
 *      (any / exact / prefix / suffix), IP ranges become masks, dates unix
 *      seconds; everything lives in one arena released with the policy;
 *   3. evaluation: a set flattens the statements of its policies into a deny
 *      list and an allow list, each with a parallel array of service bitmasks
 *      so that most statements are skipped with one AND; the deny list is
 *      scanned first (explicit deny wins), then the allow list (first match
 *      wins), else implicit deny.
 *
 * Invariant: once cam_policy_parse() or cam_policy_set_new() returns, nothing
 * writes to the object except the reference count. */
#include "cam/policy.h"

#include <arpa/inet.h>
#include <assert.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "core/mem.h"
#include "core/parse.h"
#include "core/banned.h"

/* ---- Error codes (spec §3.5) ---- */

#define E_LENGTH            "InvalidParameter.PolicyDocumentLengthOverLimit"
#define E_DOCUMENT          "InvalidParameter.PolicyDocumentError"
#define E_VERSION           "InvalidParameter.VersionError"
#define E_STATEMENT         "InvalidParameter.StatementError"
#define E_PRINCIPAL         "InvalidParameter.PrincipalError"
#define E_EFFECT            "InvalidParameter.EffectError"
#define E_ACTION_MISS       "InvalidParameter.ActionMiss"
#define E_ACTION            "InvalidParameter.ActionError"
#define E_RESOURCE          "InvalidParameter.ResourceError"
#define E_RESOURCE_QCS      "InvalidParameter.ResourceQcsError"
#define E_RESOURCE_PROJECT  "InvalidParameter.ResourceProjectError"
#define E_RESOURCE_REGION   "InvalidParameter.ResourceRegionError"
#define E_RESOURCE_UIN      "InvalidParameter.ResourceUinError"
#define E_RESOURCE_CONTENT  "InvalidParameter.ResourceContentError"
#define E_CONDITION         "InvalidParameter.ConditionError"
#define E_CONDITION_TYPE    "InvalidParameter.ConditionTypeError"
#define E_CONDITION_CONTENT "InvalidParameter.ConditionContentError"

/* ---- Small helpers ---- */

static inline char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Whether every byte of s[0..n) is alphanumeric or in extra. */
static bool only_chars(const char *s, size_t n, const char *extra)
{
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(s[i]) && !strchr(extra, s[i]))
            return false;
    return true;
}

static bool has_control(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return true;
    return false;
}

static bool span_eq(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

static bool span_prefix_ci(const char *s, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && strncasecmp(s, prefix, k) == 0;
}

static char *arena_lower(struct arena *a, const char *s, size_t n)
{
    char *p = arena_strndup(a, s, n);
    for (size_t i = 0; i < n; i++)
        p[i] = lower(p[i]);
    return p;
}

/* FNV-1a of the lowercased service name. Its low 6 bits pick the service's
 * bucket in a policy set; the whole hash spares a memcmp per action. */
static uint64_t service_hash(const char *svc, size_t n)
{
    uint64_t h = 14695981039346656037u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)lower(svc[i]);
        h *= 1099511628211u;
    }
    return h;
}

#define SERVICE_BUCKETS 64
#define ALL_BUCKETS     (~(uint64_t)0)

static uint64_t bucket_bit(uint64_t hash)
{
    return (uint64_t)1 << (hash % SERVICE_BUCKETS);
}

/* Decimal digits of v into out (at least 21 bytes), NUL-terminated; returns
 * the length. snprintf costs more than a whole decision. */
static size_t fmt_u64(uint64_t v, char *out)
{
    char tmp[20];
    size_t n = 0, k = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) && n < sizeof(tmp));
    while (n)
        out[k++] = tmp[--n];
    out[k] = '\0';
    return k;
}

/* ---- Numbers, dates, IP addresses (parsed at compile time, and for the
 * request's extra context once per request) ---- */

/* [-]digits[.digits], at most 19 digits in all. */
static bool parse_number(const char *s, size_t n, double *ret)
{
    bool neg = n && s[0] == '-';
    uint64_t m = 0;
    int digits = 0, frac = -1;
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,
                                   1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19};
    for (size_t i = neg; i < n; i++) {
        if (s[i] == '.' && frac < 0 && digits) {
            frac = 0;
            continue;
        }
        if (!is_digit(s[i]) || ++digits > 19)
            return false;
        m = m * 10 + (uint64_t)(s[i] - '0');
        frac += frac >= 0;
    }
    if (!digits || frac == 0)
        return false;
    double v = (double)m / pow10[frac > 0 ? frac : 0];
    *ret = neg ? -v : v;
    return true;
}

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Reads exactly width digits at s[*i]. */
static bool take_digits(const char *s, size_t n, size_t *i, int width, int64_t *ret)
{
    uint64_t v;
    if (*i + (size_t)width > n || parse_u64n(s + *i, (size_t)width, 9999, &v))
        return false;
    *i += (size_t)width;
    *ret = (int64_t)v;
    return true;
}

static bool take_char(const char *s, size_t n, size_t *i, char c)
{
    if (*i < n && s[*i] == c) {
        (*i)++;
        return true;
    }
    return false;
}

/* "Z", "+hh:mm", "-hhmm" or nothing (UTC): the offset in seconds. */
static bool parse_zone(const char *s, size_t n, size_t i, int64_t *ret)
{
    int64_t hh, mm;
    if (i == n || (i + 1 == n && (s[i] == 'Z' || s[i] == 'z'))) {
        *ret = 0;
        return true;
    }
    if (s[i] != '+' && s[i] != '-')
        return false;
    int64_t sign = s[i++] == '-' ? -1 : 1;
    if (!take_digits(s, n, &i, 2, &hh))
        return false;
    take_char(s, n, &i, ':');
    if (!take_digits(s, n, &i, 2, &mm) || i != n || hh > 23 || mm > 59)
        return false;
    *ret = sign * (hh * 3600 + mm * 60);
    return true;
}

static bool valid_day(int64_t y, int64_t mo, int64_t d)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1)
        return false;
    return d <= mdays[mo - 1] + (mo == 2 && leap);
}

/* "YYYY-MM-DD", "YYYY-MM-DDThh:mm[:ss[.fff]][zone]" or the same with a space
 * for the T (spec §2.6 accepts both). Fractions are dropped. */
static bool parse_date(const char *s, size_t n, int64_t *ret)
{
    size_t i = 0;
    int64_t y, mo, d, h = 0, mi = 0, sec = 0, zone;
    if (!take_digits(s, n, &i, 4, &y) || !take_char(s, n, &i, '-') ||
        !take_digits(s, n, &i, 2, &mo) || !take_char(s, n, &i, '-') ||
        !take_digits(s, n, &i, 2, &d) || !valid_day(y, mo, d))
        return false;
    if (i < n && (s[i] == 'T' || s[i] == 't' || s[i] == ' ')) {
        i++;
        if (!take_digits(s, n, &i, 2, &h) || !take_char(s, n, &i, ':') ||
            !take_digits(s, n, &i, 2, &mi))
            return false;
        if (take_char(s, n, &i, ':') && !take_digits(s, n, &i, 2, &sec))
            return false;
        if (take_char(s, n, &i, '.'))
            while (i < n && is_digit(s[i]))
                i++;
        if (h > 23 || mi > 59 || sec > 60)
            return false;
    }
    if (!parse_zone(s, n, i, &zone))
        return false;
    *ret = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - zone;
    return true;
}

/* An address as two 64-bit halves; IPv4 in the low 32 bits of lo. */
struct ipaddr {
    uint8_t fam; /* 0, 4 or 6 */
    uint64_t hi, lo;
};

struct ipnet {
    uint8_t fam;
    uint64_t hi, lo, mhi, mlo;
};

static uint64_t be64(const uint8_t *b)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | b[i];
    return v;
}

static struct ipaddr ipaddr_of(const struct cam_ip *ip)
{
    struct ipaddr a = {0, 0, 0};
    if (ip->family == CAM_IP_V4) {
        a.fam = 4;
        a.lo = (uint64_t)ip->addr[0] << 24 | (uint64_t)ip->addr[1] << 16 |
               (uint64_t)ip->addr[2] << 8 | ip->addr[3];
    } else if (ip->family == CAM_IP_V6) {
        a.fam = 6;
        a.hi = be64(ip->addr);
        a.lo = be64(ip->addr + 8);
        if (a.hi == 0 && a.lo >> 32 == 0xffff) { /* ::ffff:a.b.c.d */
            a.fam = 4;
            a.lo &= 0xffffffffu;
        }
    }
    return a;
}

int cam_ip_parse(const char *text, struct cam_ip *ret)
{
    struct cam_ip ip = {CAM_IP_NONE, {0}};
    if (!text)
        return BE_INVALID_PARAMETER;
    if (inet_pton(AF_INET, text, ip.addr) == 1)
        ip.family = CAM_IP_V4;
    else if (inet_pton(AF_INET6, text, ip.addr) == 1)
        ip.family = CAM_IP_V6;
    else
        return BE_INVALID_PARAMETER;
    *ret = ip;
    return BE_OK;
}

static uint64_t mask_bits(unsigned prefix, unsigned width)
{
    if (prefix == 0)
        return 0;
    uint64_t all = width == 64 ? ~(uint64_t)0 : (((uint64_t)1 << width) - 1);
    return (all << (width - prefix)) & all;
}

static void ipnet_mask(struct ipnet *net, unsigned prefix)
{
    if (net->fam == 4) {
        net->mhi = 0;
        net->mlo = mask_bits(prefix, 32);
    } else {
        net->mhi = mask_bits(prefix > 64 ? 64 : prefix, 64);
        net->mlo = mask_bits(prefix > 64 ? prefix - 64 : 0, 64);
    }
    net->hi &= net->mhi;
    net->lo &= net->mlo;
}

/* "a.b.c.d", "a.b.c.d/n", "v6", "v6/n"; host bits are masked off. */
static bool parse_cidr(const char *s, size_t n, struct ipnet *ret)
{
    char text[INET6_ADDRSTRLEN + 1];
    const char *slash = memchr(s, '/', n);
    size_t alen = slash ? (size_t)(slash - s) : n;
    uint64_t prefix = 128;
    struct cam_ip ip;
    if (alen == 0 || alen >= sizeof(text))
        return false;
    memcpy(text, s, alen);
    text[alen] = '\0';
    if (cam_ip_parse(text, &ip))
        return false;
    if (slash && parse_u64n(slash + 1, n - alen - 1, 128, &prefix))
        return false;
    struct ipaddr a = ipaddr_of(&ip);
    bool mapped = a.fam == 4 && ip.family == CAM_IP_V6;
    if (mapped && slash && prefix < 96)
        return false; /* a range wider than the mapped space: refuse, not guess */
    if (mapped && slash)
        prefix -= 96;
    if (!slash && a.fam == 4)
        prefix = 32;
    if (a.fam == 4 && prefix > 32)
        return false;
    *ret = (struct ipnet){a.fam, a.hi, a.lo, 0, 0};
    ipnet_mask(ret, (unsigned)prefix);
    return true;
}

static bool ipnet_contains(const struct ipnet *net, const struct ipaddr *a)
{
    return net->fam == a->fam && (a->hi & net->mhi) == net->hi && (a->lo & net->mlo) == net->lo;
}

/* ---- Patterns ---- */

enum { VAR_UIN, VAR_OWNER_UIN, VAR_APP_ID, VAR__N };
static const char *const var_names[VAR__N] = {"uin", "owner_uin", "app_id"};

enum tok_kind { TOK_LIT, TOK_VAR, TOK_STAR, TOK_ONE };

struct tok {
    uint8_t kind;
    uint8_t var;
    uint32_t len;
    const char *s;
};

enum pat_kind { PAT_ANY, PAT_EXACT, PAT_PREFIX, PAT_SUFFIX, PAT_TOKENS };

/* A compiled pattern. lit/len hold the literal of EXACT, PREFIX and SUFFIX;
 * tok the general form. fold: compare the subject case-insensitively (the
 * pattern itself is already lower case). */
struct pat {
    uint8_t kind;
    bool fold;
    uint32_t len;
    const char *lit;
    uint32_t ntok;
    const struct tok *tok;
};

enum {
    PF_GLOB = 1,  /* '*' is a wildcard */
    PF_QMARK = 2, /* '?' is a wildcard (one character) */
    PF_VARS = 4,  /* ${uin}, ${owner_uin}, ${app_id} */
    PF_LOWER = 8, /* lowercase the pattern */
    PF_FOLD = 16, /* compare the subject case-insensitively */
};

static bool pat_special(const char *s, size_t n, size_t i, unsigned flags)
{
    return ((flags & PF_GLOB) && s[i] == '*') || ((flags & PF_QMARK) && s[i] == '?') ||
           ((flags & PF_VARS) && s[i] == '$' && i + 1 < n && s[i + 1] == '{');
}

static int var_lookup(const char *s, size_t n)
{
    for (int v = 0; v < VAR__N; v++)
        if (span_eq(s, n, var_names[v]))
            return v;
    return -1;
}

/* Reads the token at s[*i]; -1 on an unknown or unterminated variable. */
static int pat_token(const char *s, size_t n, size_t *i, unsigned flags, struct tok *t)
{
    size_t j = *i;
    *t = (struct tok){TOK_LIT, 0, 0, s + j};
    if ((flags & PF_GLOB) && s[j] == '*') {
        t->kind = TOK_STAR;
        j++;
    } else if ((flags & PF_QMARK) && s[j] == '?') {
        t->kind = TOK_ONE;
        j++;
    } else if (pat_special(s, n, j, flags)) {
        const char *close = memchr(s + j + 2, '}', n - j - 2);
        int v = close ? var_lookup(s + j + 2, (size_t)(close - s - j - 2)) : -1;
        if (v < 0)
            return -1;
        t->kind = TOK_VAR;
        t->var = (uint8_t)v;
        j = (size_t)(close - s) + 1;
    } else {
        do
            j++;
        while (j < n && !pat_special(s, n, j, flags));
        t->len = (uint32_t)(j - *i);
    }
    *i = j;
    return 0;
}

/* Tokenizes s into out (NULL: count only); consecutive stars collapse. */
static int pat_scan(const char *s, size_t n, unsigned flags, struct tok *out, uint32_t *ret_n)
{
    uint32_t nt = 0;
    bool last_star = false;
    for (size_t i = 0; i < n;) {
        struct tok t;
        if (pat_token(s, n, &i, flags, &t))
            return -1;
        if (t.kind == TOK_STAR && last_star)
            continue;
        last_star = t.kind == TOK_STAR;
        if (out)
            out[nt] = t;
        nt++;
    }
    *ret_n = nt;
    return 0;
}

static void pat_classify(struct pat *p)
{
    const struct tok *t = p->tok;
    bool simple = true;
    for (uint32_t i = 0; i < p->ntok; i++)
        simple &= t[i].kind == TOK_LIT || t[i].kind == TOK_STAR;
    p->kind = PAT_TOKENS;
    if (p->ntok == 0) {
        p->kind = PAT_EXACT;
        p->lit = "";
        p->len = 0;
    } else if (!simple) {
        return;
    } else if (p->ntok == 1) {
        p->kind = t[0].kind == TOK_STAR ? PAT_ANY : PAT_EXACT;
    } else if (p->ntok == 2) {
        p->kind = t[0].kind == TOK_LIT ? PAT_PREFIX : PAT_SUFFIX;
    }
    const struct tok *lit = p->kind == PAT_SUFFIX ? &t[1] : &t[0];
    if (p->kind == PAT_EXACT || p->kind == PAT_PREFIX || p->kind == PAT_SUFFIX) {
        p->lit = lit->s;
        p->len = lit->len;
    }
}

/* Compiles s[0..n) into *ret; -1 on a bad variable. */
static int pat_compile(struct arena *a, const char *s, size_t n, unsigned flags, struct pat *ret)
{
    char *text = (flags & PF_LOWER) ? arena_lower(a, s, n) : arena_strndup(a, s, n);
    uint32_t nt;
    if (pat_scan(text, n, flags, NULL, &nt))
        return -1;
    struct tok *tok = arena_calloc(a, nt ? nt : 1, sizeof(*tok));
    pat_scan(text, n, flags, tok, &nt);
    *ret = (struct pat){PAT_TOKENS, (flags & PF_FOLD) != 0, 0, NULL, nt, tok};
    pat_classify(ret);
    return 0;
}

static const struct pat pat_any = {PAT_ANY, false, 0, "", 0, NULL};

/* ---- The prepared request ---- */

enum key_id {
    KEY_EXTRA, /* not built in: looked up by name among the request's extra keys */
    KEY_IP,
    KEY_TIME,
    KEY_UIN,
    KEY_OWNER_UIN,
    KEY_MFA,
    KEY_READ_ONLY,
    KEY_EXCEPT_CAM_FINANCE,
    KEY__N
};

/* Value families, one per group of operators. */
enum { F_STR = 1, F_NUM = 2, F_DATE = 4, F_BOOL = 8, F_IP = 16, F_NULL = 32 };

static const struct {
    const char *name;
    uint8_t id;
    uint8_t families; /* the operator families that may use it */
} builtin_keys[] = {
    {"qcs:ip", KEY_IP, F_IP | F_NULL},
    {"qcs:current_time", KEY_TIME, F_DATE | F_NUM | F_NULL},
    {"qcs:uin", KEY_UIN, F_STR | F_NUM | F_NULL},
    {"qcs:owner_uin", KEY_OWNER_UIN, F_STR | F_NUM | F_NULL},
    {"qcs:mfa", KEY_MFA, F_BOOL | F_STR | F_NULL},
    {"mfa", KEY_MFA, F_BOOL | F_STR | F_NULL},
    {"qcs:read_only_action", KEY_READ_ONLY, F_NUM | F_BOOL | F_STR | F_NULL},
    {"qcs:except_cam_finance", KEY_EXCEPT_CAM_FINANCE, F_NUM | F_BOOL | F_STR | F_NULL},
};
#define N_BUILTIN_KEYS (sizeof(builtin_keys) / sizeof(builtin_keys[0]))

static int builtin_key(const char *s, size_t n)
{
    for (size_t i = 0; i < N_BUILTIN_KEYS; i++)
        if (span_eq(s, n, builtin_keys[i].name))
            return (int)i;
    return -1;
}

enum { HAS_STR = 1, HAS_NUM = 2, HAS_DATE = 4, HAS_BOOL = 8, HAS_IP = 16 };

/* One context value in every form it can take. */
struct rq_val {
    const char *s;
    uint32_t len;
    uint8_t has;
    bool b;
    double num;
    int64_t date;
    struct ipaddr ip;
};

struct rq_span {
    uint8_t first, count; /* count 0: the key is absent */
};

enum { SEG_SERVICE, SEG_REGION, SEG_ACCOUNT, SEG_REST, SEG__N };
enum { RACCT_OTHER, RACCT_UIN, RACCT_UID };

struct rq_extra {
    const char *name;
    uint32_t len;
    struct rq_span span;
};

struct rq {
    char action[CAM_ACTION_MAX + 1]; /* lowercase "service:name" */
    uint8_t svc_len, name_len;
    uint64_t svc_hash;
    bool res_any;
    const char *res; /* borrowed */
    uint32_t seg_off[SEG__N], seg_len[SEG__N];
    uint8_t acct_kind;  /* RACCT_* */
    bool acct_implicit; /* empty account segment: acct_buf holds uin/<owner> */
    uint8_t acct_buf_len;
    char acct_buf[26];
    uint64_t acct_num;
    uint64_t owner_uin, caller_uin, app_id;
    struct {
        char s[21];
        uint8_t len; /* 0: unknown, matches nothing */
    } var[VAR__N];
    struct rq_span key[KEY__N];
    uint8_t nextra;
    struct rq_extra extra[CAM_CONTEXT_MAX];
    uint8_t nval;
    struct rq_val val[KEY__N + CAM_CONTEXT_MAX];
};

_Static_assert(sizeof(struct rq) <= CAM_EVAL_REQUEST_SIZE, "CAM_EVAL_REQUEST_SIZE is too small");
_Static_assert(_Alignof(struct rq) <= 8, "struct rq needs more alignment than the opaque buffer");

static struct rq *rq_of(struct cam_eval_request *req)
{
    return (struct rq *)(void *)req->opaque;
}

static const struct rq *rq_const(const struct cam_eval_request *req)
{
    return (const struct rq *)(const void *)req->opaque;
}

/* ---- Pattern matching (evaluation; no allocation) ---- */

static bool bytes_eq(const char *pat, const char *s, size_t n, bool fold)
{
    if (!fold)
        return memcmp(pat, s, n) == 0;
    for (size_t i = 0; i < n; i++)
        if (pat[i] != lower(s[i]))
            return false;
    return true;
}

/* The length token t consumes at s[i], or -1. */
static long tok_at(const struct tok *t, const char *s, size_t n, size_t i, bool fold,
                   const struct rq *r)
{
    if (t->kind == TOK_ONE) {
        if (i >= n || ((unsigned char)s[i] & 0xc0) == 0x80)
            return -1;
        size_t j = i + 1;
        while (j < n && ((unsigned char)s[j] & 0xc0) == 0x80)
            j++;
        return (long)(j - i);
    }
    const char *lit = t->s;
    size_t len = t->len;
    if (t->kind == TOK_VAR) {
        lit = r->var[t->var].s;
        len = r->var[t->var].len;
        if (!len)
            return -1;
    }
    if (n - i < len || !bytes_eq(lit, s + i, len, fold))
        return -1;
    return (long)len;
}

/* Glob over tokens with the usual single backtrack point (the last star),
 * which is exact for patterns of literals, `?` and `*`. */
static bool tokens_match(const struct pat *p, const char *s, size_t n, const struct rq *r)
{
    size_t ti = 0, si = 0, star_t = SIZE_MAX, star_s = 0;
    while (si < n || ti < p->ntok) {
        if (ti < p->ntok) {
            const struct tok *t = &p->tok[ti];
            if (t->kind == TOK_STAR) {
                star_t = ti++;
                star_s = si;
                continue;
            }
            long k = tok_at(t, s, n, si, p->fold, r);
            if (k >= 0) {
                ti++;
                si += (size_t)k;
                continue;
            }
        }
        if (star_t == SIZE_MAX || star_s >= n)
            return false;
        ti = star_t + 1;
        si = ++star_s;
    }
    return true;
}

static bool pat_match(const struct pat *p, const char *s, size_t n, const struct rq *r)
{
    switch (p->kind) {
    case PAT_ANY:
        return true;
    case PAT_EXACT:
        return n == p->len && bytes_eq(p->lit, s, n, p->fold);
    case PAT_PREFIX:
        return n >= p->len && bytes_eq(p->lit, s, p->len, p->fold);
    case PAT_SUFFIX:
        return n >= p->len && bytes_eq(p->lit, s + n - p->len, p->len, p->fold);
    default:
        return tokens_match(p, s, n, r);
    }
}

/* ---- Compiled policy ---- */

struct act {
    const char *svc; /* lowercase; NULL: any service */
    uint32_t svc_len;
    uint64_t svc_hash;
    struct pat name; /* lowercase */
};

enum { ACCT_OWNER, ACCT_ANY, ACCT_UIN, ACCT_UID, ACCT_PAT };

struct res {
    bool any; /* "*" */
    uint8_t acct_kind;
    uint8_t acct_var; /* VAR__N: acct_num is a literal */
    uint64_t acct_num;
    struct pat service, region, acct, rest;
};

enum op_base {
    OP_STR_EQ,
    OP_STR_EQ_IC,
    OP_STR_LIKE,
    OP_BIN_EQ,
    OP_NUM_EQ,
    OP_NUM_LT,
    OP_NUM_LE,
    OP_NUM_GT,
    OP_NUM_GE,
    OP_DATE_EQ,
    OP_DATE_LT,
    OP_DATE_LE,
    OP_DATE_GT,
    OP_DATE_GE,
    OP_BOOL_EQ,
    OP_IP_EQ,
    OP_NULL_EQ,
};

static const struct opdef {
    const char *name;
    uint8_t base;
    bool negate;
    uint8_t family;
} ops[] = {
    {"string_equal", OP_STR_EQ, false, F_STR},
    {"string_not_equal", OP_STR_EQ, true, F_STR},
    {"string_equal_ignore_case", OP_STR_EQ_IC, false, F_STR},
    {"string_not_equal_ignore_case", OP_STR_EQ_IC, true, F_STR},
    {"string_like", OP_STR_LIKE, false, F_STR},
    {"string_not_like", OP_STR_LIKE, true, F_STR},
    {"binary_equal", OP_BIN_EQ, false, F_STR},
    {"numeric_equal", OP_NUM_EQ, false, F_NUM},
    {"numeric_not_equal", OP_NUM_EQ, true, F_NUM},
    {"numeric_less_than", OP_NUM_LT, false, F_NUM},
    {"numeric_less_than_equal", OP_NUM_LE, false, F_NUM},
    {"numeric_greater_than", OP_NUM_GT, false, F_NUM},
    {"numeric_greater_than_equal", OP_NUM_GE, false, F_NUM},
    {"date_equal", OP_DATE_EQ, false, F_DATE},
    {"date_not_equal", OP_DATE_EQ, true, F_DATE},
    {"date_less_than", OP_DATE_LT, false, F_DATE},
    {"date_less_than_equal", OP_DATE_LE, false, F_DATE},
    {"date_greater_than", OP_DATE_GT, false, F_DATE},
    {"date_greater_than_equal", OP_DATE_GE, false, F_DATE},
    {"bool_equal", OP_BOOL_EQ, false, F_BOOL},
    {"ip_equal", OP_IP_EQ, false, F_IP},
    {"ip_not_equal", OP_IP_EQ, true, F_IP},
    {"null_equal", OP_NULL_EQ, false, F_NULL},
};
#define N_OPS (sizeof(ops) / sizeof(ops[0]))

enum { QUAL_NONE, QUAL_ANY, QUAL_ALL };

union cval {
    struct pat pat;
    double num;
    int64_t date;
    bool b;
    struct ipnet net;
};

struct cond {
    uint8_t base, qual, key_id;
    bool negate, if_exist;
    uint32_t key_len;
    const char *key; /* for KEY_EXTRA */
    uint32_t nval;
    const union cval *val;
};

struct stmt {
    bool deny;
    uint32_t nact, nres, ncond;
    const struct act *act;
    const struct res *res;
    const struct cond *cond;
    uint64_t svc_mask; /* the service buckets of its actions */
};

struct cam_policy {
    atomic_uint refs;
    uint32_t nstmt;
    const struct stmt *stmt;
    struct arena arena; /* everything above points into it */
};

/* ---- Parse context: the path of the element being checked ---- */

#define PATH_DEPTH 8

struct pctx {
    const char *text; /* the JSON text, for locating errors */
    size_t len;
    struct arena *arena;
    struct cam_policy_error *err;
    int depth;
    const char *key[PATH_DEPTH]; /* NULL: the component is idx[i] */
    size_t idx[PATH_DEPTH];
};

static void path_key(struct pctx *c, const char *key)
{
    assert(c->depth < PATH_DEPTH);
    c->key[c->depth] = key;
    c->depth++;
}

static void path_idx(struct pctx *c, size_t i)
{
    assert(c->depth < PATH_DEPTH);
    c->key[c->depth] = NULL;
    c->idx[c->depth] = i;
    c->depth++;
}

/* Enters item i of v: an index component when v is a list, none when v is
 * the single-value shorthand. */
static void path_item(struct pctx *c, const json_t *v, size_t i)
{
    if (json_is_array(v))
        path_idx(c, i);
}

/* The path as text ("statement[1].action[0]"), without its last component
 * when the error is about that key (the message names it). */
static void path_format(const struct pctx *c, bool at_key, char *out, size_t size)
{
    size_t used = 0;
    int depth = at_key ? c->depth - 1 : c->depth;
    out[0] = '\0';
    for (int i = 0; i < depth && used < size; i++) {
        int k = c->key[i] ? snprintf(out + used, size - used, "%s%s", i ? "." : "", c->key[i])
                          : snprintf(out + used, size - used, "[%zu]", c->idx[i]);
        if (k < 0)
            break;
        used += (size_t)k;
    }
}

/* ---- Locating an element in the JSON text (only on errors) ---- */

#define NOT_FOUND SIZE_MAX

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_delim(char c)
{
    return is_space(c) || c == ',' || c == ':' || c == ']' || c == '}';
}

static size_t skip_ws(const char *t, size_t n, size_t p)
{
    while (p < n && (t[p] == ' ' || t[p] == '\t' || t[p] == '\n' || t[p] == '\r'))
        p++;
    return p;
}

static size_t skip_string(const char *t, size_t n, size_t p)
{
    for (p++; p < n && t[p] != '"'; p++)
        if (t[p] == '\\')
            p++;
    return p < n ? p + 1 : n;
}

/* Skips one value of a (valid) JSON text, iteratively. */
static size_t skip_value(const char *t, size_t n, size_t p)
{
    size_t depth = 0;
    do {
        p = skip_ws(t, n, p);
        if (p >= n)
            return n;
        if (t[p] == '"')
            p = skip_string(t, n, p);
        else if (t[p] == '{' || t[p] == '[')
            depth++, p++;
        else if (t[p] == '}' || t[p] == ']')
            depth--, p++;
        else if (t[p] == ',' || t[p] == ':')
            p++;
        else
            do
                p++;
            while (p < n && !is_delim(t[p]));
    } while (depth > 0);
    return p;
}

static int hexval(char c)
{
    if (is_digit(c))
        return c - '0';
    c = lower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static long hex4(const char *t, size_t n, size_t p)
{
    long v = 0;
    for (size_t i = p; i < p + 4; i++) {
        int h = i < n ? hexval(t[i]) : -1;
        if (h < 0)
            return -1;
        v = v << 4 | h;
    }
    return v;
}

static size_t utf8_encode(unsigned long cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Decodes the escape at t[*p] (the backslash) into out; returns its length. */
static size_t json_unescape(const char *t, size_t n, size_t *p, char out[4])
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    char e = *p + 1 < n ? t[*p + 1] : '\0';
    const char *k = e ? strchr(from, e) : NULL;
    if (e != 'u') {
        *p += 2;
        out[0] = k ? to[k - from] : e;
        return 1;
    }
    long cp = hex4(t, n, *p + 2);
    *p += 6;
    if (cp >= 0xd800 && cp < 0xdc00 && *p + 1 < n && t[*p] == '\\' && t[*p + 1] == 'u') {
        long lo = hex4(t, n, *p + 2);
        if (lo >= 0xdc00 && lo < 0xe000) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            *p += 6;
        }
    }
    return utf8_encode(cp < 0 ? 0xfffd : (unsigned long)cp, out);
}

/* Reads the string at t[*p] (its opening quote), comparing its decoded
 * contents with want; *p ends after the closing quote. */
static bool json_string_is(const char *t, size_t n, size_t *p, const char *want)
{
    size_t w = 0, wn = strlen(want);
    bool eq = true;
    (*p)++;
    while (*p < n && t[*p] != '"') {
        char buf[4];
        size_t k = 1;
        if (t[*p] == '\\')
            k = json_unescape(t, n, p, buf);
        else
            buf[0] = t[(*p)++];
        eq = eq && w + k <= wn && memcmp(want + w, buf, k) == 0;
        w += k;
    }
    (*p)++;
    return eq && w == wn;
}

/* The position of member key of the object at p (its value, or the key
 * itself when at_key), or NOT_FOUND. */
static size_t find_member(const char *t, size_t n, size_t p, const char *key, bool at_key)
{
    if (p >= n || t[p] != '{')
        return NOT_FOUND;
    for (p = skip_ws(t, n, p + 1); p < n && t[p] == '"';) {
        size_t kpos = p;
        bool hit = json_string_is(t, n, &p, key);
        p = skip_ws(t, n, p);
        p = skip_ws(t, n, p + 1); /* the colon */
        if (hit)
            return at_key ? kpos : p;
        p = skip_ws(t, n, skip_value(t, n, p));
        if (p < n && t[p] == ',')
            p = skip_ws(t, n, p + 1);
    }
    return NOT_FOUND;
}

static size_t find_element(const char *t, size_t n, size_t p, size_t idx)
{
    if (p >= n || t[p] != '[')
        return NOT_FOUND;
    p = skip_ws(t, n, p + 1);
    for (size_t i = 0; i < idx && p < n && t[p] != ']'; i++) {
        p = skip_ws(t, n, skip_value(t, n, p));
        if (p < n && t[p] == ',')
            p = skip_ws(t, n, p + 1);
    }
    return p < n && t[p] != ']' ? p : NOT_FOUND;
}

/* Line and column (1-based, columns in characters) of byte offset pos. */
static void line_col(const char *t, size_t pos, int *ret_line, int *ret_col)
{
    int line = 1, col = 1;
    for (size_t i = 0; i < pos; i++) {
        if (t[i] == '\n') {
            line++;
            col = 1;
        } else if (((unsigned char)t[i] & 0xc0) != 0x80) {
            col++;
        }
    }
    *ret_line = line;
    *ret_col = col;
}

/* Follows the current path through the text; stops at the deepest element
 * found. */
static void locate(const struct pctx *c, bool at_key, int *ret_line, int *ret_col)
{
    size_t pos = skip_ws(c->text, c->len, 0);
    for (int i = 0; i < c->depth; i++) {
        bool key_here = at_key && i == c->depth - 1;
        size_t next = c->key[i] ? find_member(c->text, c->len, pos, c->key[i], key_here)
                                : find_element(c->text, c->len, pos, c->idx[i]);
        if (next == NOT_FOUND)
            break;
        pos = next;
    }
    line_col(c->text, pos, ret_line, ret_col);
}

/* ---- Errors ---- */

/* Quotes client text for a message: at most 48 bytes (cut at a character
 * boundary), control characters shown as '?'. */
static void quote(const char *s, size_t n, char *out, size_t size)
{
    size_t k = n > 48 ? 48 : n;
    while (k < n && k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
        k--;
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < k && o + 5 < size; i++) {
        unsigned char c = (unsigned char)s[i];
        /* C0 controls, DEL, and the C1 controls U+0080..U+009F (0xc2 0x80..0x9f) */
        if (c == 0xc2 && i + 1 < k && ((unsigned char)s[i + 1] & 0xe0) == 0x80) {
            out[o++] = '?';
            i++;
        } else {
            out[o++] = c < 0x20 || c == 0x7f ? '?' : s[i];
        }
    }
    if (k < n && o + 5 < size) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o++] = '"';
    out[o] = '\0';
}

/* Cuts a trailing incomplete UTF-8 sequence (left by truncation). */
static void utf8_trim(char *s)
{
    size_t n = strlen(s), k = n;
    while (k > 0 && ((unsigned char)s[k - 1] & 0xc0) == 0x80)
        k--;
    if (k == 0 || (unsigned char)s[k - 1] < 0xc0)
        return;
    unsigned char lead = (unsigned char)s[k - 1];
    size_t want = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
    if (n - (k - 1) < want)
        s[k - 1] = '\0';
}

/* Replaces bytes outside printable ASCII (jansson quotes raw input in its
 * messages, which may be invalid UTF-8). */
static void ascii_only(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            *s = '?';
}

static int fail(struct pctx *c, const char *code, bool at_key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct pctx *c, const char *code, bool at_key, const char *fmt, ...)
{
    char path[96], what[156];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    path_format(c, at_key, path, sizeof(path));
    for (char *k = path; *k; k++) /* keys are client text */
        if ((unsigned char)*k < 0x20)
            *k = '?';
    utf8_trim(what);
    utf8_trim(path);
    c->err->code = code;
    snprintf(c->err->message, sizeof(c->err->message), "%s%s%s", path, path[0] ? ": " : "", what);
    utf8_trim(c->err->message);
    locate(c, at_key, &c->err->line, &c->err->column);
    return BE_INVALID_PARAMETER;
}

/* A short description of a JSON value for messages. */
static const char *describe(const json_t *v, char *buf, size_t size)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        quote(json_string_value(v), json_string_length(v), buf, size);
        return buf;
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "a list";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

/* ---- Document text: length, URL form ---- */

static size_t count_chars(const char *s, size_t n)
{
    size_t chars = 0;
    for (size_t i = 0; i < n; i++)
        chars += ((unsigned char)s[i] & 0xc0) != 0x80;
    return chars;
}

/* URL-decodes s once ('+' is a space) into a new string; -1 on a bad
 * escape. */
static int url_decode(const char *s, size_t n, char **ret, size_t *ret_len)
{
    char *out = xmalloc(xadd(n, 1));
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int hi = i + 2 < n ? hexval(s[i + 1]) : -1, lo = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                free(out);
                return -1;
            }
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    out[o] = '\0';
    *ret = out;
    *ret_len = o;
    return 0;
}

static void plain_error(struct cam_policy_error *err, const char *code, const char *msg)
{
    err->code = code;
    snprintf(err->message, sizeof(err->message), "%s", msg);
    err->line = 0;
    err->column = 0;
}

/* Yields the JSON text to parse: text itself or its URL-decoded form (then
 * *ret_owned is set and must be freed). */
static int document_text(const char *text, size_t len, const char **ret, size_t *ret_len,
                         char **ret_owned, struct cam_policy_error *err)
{
    char *decoded = NULL;
    size_t start = 0;
    if (len > CAM_POLICY_MAX_INPUT_BYTES) {
        plain_error(err, E_LENGTH, "the policy document is longer than 6144 characters");
        return BE_INVALID_PARAMETER;
    }
    while (start < len && is_space(text[start]))
        start++;
    if (start < len && text[start] != '{') {
        if (url_decode(text, len, &decoded, &len)) {
            plain_error(err, E_DOCUMENT,
                        "the policy document is neither JSON nor URL-encoded JSON");
            return BE_INVALID_PARAMETER;
        }
        text = decoded;
    }
    if (count_chars(text, len) > CAM_POLICY_MAX_CHARS) {
        free(decoded);
        plain_error(err, E_LENGTH, "the policy document is longer than 6144 characters");
        return BE_INVALID_PARAMETER;
    }
    *ret = text;
    *ret_len = len;
    *ret_owned = decoded;
    return BE_OK;
}

/* ---- Compilation: element checks ---- */

/* Refuses principal (PrincipalError) and any element not in allowed (code). */
static int check_elements(struct pctx *c, json_t *obj, const char *const *allowed, const char *code)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        size_t i = 0;
        while (allowed[i] && strcmp(allowed[i], k))
            i++;
        if (allowed[i])
            continue;
        char q[64];
        quote(k, strlen(k), q, sizeof(q));
        path_key(c, k);
        if (!strcmp(k, "principal"))
            return fail(c, E_PRINCIPAL, true,
                        "principal is not allowed in an identity or session policy");
        return fail(c, code, true, "unknown element %s (element names are lower case)", q);
    }
    return BE_OK;
}

static int check_version(struct pctx *c, json_t *root)
{
    json_t *v = json_object_get(root, "version");
    char d[64];
    if (!v)
        return fail(c, E_VERSION, false, "version is missing; it must be \"2.0\"");
    path_key(c, "version");
    if (!json_is_string(v) || strcmp(json_string_value(v), "2.0"))
        return fail(c, E_VERSION, false, "version must be \"2.0\", not %s",
                    describe(v, d, sizeof(d)));
    c->depth--;
    return BE_OK;
}

/* Checks that v is a string or a non-empty list of strings; *ret_n gets the
 * count. */
static int string_list(struct pctx *c, json_t *v, const char *code, const char *empty_code,
                       const char *name, size_t *ret_n)
{
    char d[64];
    if (json_is_string(v)) {
        *ret_n = 1;
        return BE_OK;
    }
    if (!json_is_array(v))
        return fail(c, code, false, "%s must be a string or a list of strings, not %s", name,
                    describe(v, d, sizeof(d)));
    if (json_array_size(v) == 0)
        return fail(c, empty_code, false, "%s is an empty list", name);
    for (size_t i = 0; i < json_array_size(v); i++) {
        if (!json_is_string(json_array_get(v, i))) {
            path_idx(c, i);
            return fail(c, code, false, "%s entries are strings, not %s", name,
                        describe(json_array_get(v, i), d, sizeof(d)));
        }
    }
    *ret_n = json_array_size(v);
    return BE_OK;
}

static json_t *list_at(json_t *v, size_t i)
{
    return json_is_array(v) ? json_array_get(v, i) : v;
}

/* ---- Compilation: effect and action ---- */

static int compile_effect(struct pctx *c, json_t *st, struct stmt *out)
{
    json_t *v = json_object_get(st, "effect");
    const char *s = json_string_value(v);
    char d[64];
    if (!v)
        return fail(c, E_EFFECT, false, "effect is missing; it must be allow or deny");
    path_key(c, "effect");
    if (!s || (strcasecmp(s, "allow") && strcasecmp(s, "deny")))
        return fail(c, E_EFFECT, false, "effect must be allow or deny, not %s",
                    describe(v, d, sizeof(d)));
    out->deny = !strcasecmp(s, "deny");
    c->depth--;
    return BE_OK;
}

static int action_fail(struct pctx *c, const char *s, size_t n, const char *why)
{
    char q[64];
    quote(s, n, q, sizeof(q));
    return fail(c, E_ACTION, false, "%s %s", why, q);
}

/* "*", "*:*", "[name/]service:Name" with '*' anywhere in Name. */
static int compile_action(struct pctx *c, const char *s, size_t n, struct act *a)
{
    const char *orig = s;
    size_t on = n;
    if (n == 0 || n > CAM_ACTION_MAX)
        return action_fail(c, s, n, n ? "action is too long:" : "action is empty:");
    if (n == 1 && s[0] == '*') {
        *a = (struct act){NULL, 0, 0, pat_any};
        return BE_OK;
    }
    if (span_prefix_ci(s, n, "name/"))
        s += 5, n -= 5;
    const char *colon = memchr(s, ':', n);
    if (memchr(s, '/', colon ? (size_t)(colon - s) : n))
        return action_fail(c, orig, on, "unsupported action prefix (use service:Action) in");
    if (!colon)
        return action_fail(c, orig, on, "action is not service:Action:");
    size_t sn = (size_t)(colon - s), nn = n - sn - 1;
    if (!sn || !nn)
        return action_fail(c, orig, on, "empty service or action name in");
    bool any_svc = sn == 1 && s[0] == '*';
    if (!any_svc && !only_chars(s, sn, "-_"))
        return action_fail(c, orig, on, "service must be * or letters, digits, - and _ in");
    if (!only_chars(colon + 1, nn, "-_.*"))
        return action_fail(c, orig, on, "action name may hold letters, digits, -, _, . and * in");
    a->svc = any_svc ? NULL : arena_lower(c->arena, s, sn);
    a->svc_len = any_svc ? 0 : (uint32_t)sn;
    a->svc_hash = any_svc ? 0 : service_hash(s, sn);
    pat_compile(c->arena, colon + 1, nn, PF_GLOB | PF_LOWER, &a->name);
    return BE_OK;
}

static int compile_actions(struct pctx *c, json_t *st, struct stmt *out)
{
    json_t *v = json_object_get(st, "action");
    size_t n = 0;
    if (!v)
        return fail(c, E_ACTION_MISS, false, "action is missing");
    path_key(c, "action");
    int rc = string_list(c, v, E_ACTION, E_ACTION_MISS, "action", &n);
    if (rc)
        return rc;
    struct act *acts = arena_calloc(c->arena, n, sizeof(*acts));
    for (size_t i = 0; i < n; i++) {
        json_t *s = list_at(v, i);
        int mark = c->depth;
        path_item(c, v, i);
        rc = compile_action(c, json_string_value(s), json_string_length(s), &acts[i]);
        if (rc)
            return rc;
        c->depth = mark;
        out->svc_mask |= acts[i].svc ? bucket_bit(acts[i].svc_hash) : ALL_BUCKETS;
    }
    out->act = acts;
    out->nact = (uint32_t)n;
    c->depth--;
    return BE_OK;
}

/* ---- Compilation: resource ---- */

static int res_fail(struct pctx *c, const char *code, const char *s, size_t n, const char *why)
{
    char q[64];
    quote(s, n, q, sizeof(q));
    return fail(c, code, false, "%s %s", why, q);
}

/* Splits a qcs string into its six segments (the last may hold ':'). */
static bool split6(const char *s, size_t n, const char *seg[6], size_t len[6])
{
    size_t start = 0;
    for (int i = 0; i < 5; i++) {
        const char *colon = memchr(s + start, ':', n - start);
        if (!colon)
            return false;
        seg[i] = s + start;
        len[i] = (size_t)(colon - s) - start;
        start = (size_t)(colon - s) + 1;
    }
    seg[5] = s + start;
    len[5] = n - start;
    return true;
}

/* Whether the literal tokens of p hold only digits. */
static bool pat_digits(const struct pat *p)
{
    for (uint32_t i = 0; i < p->ntok; i++)
        for (uint32_t j = 0; p->tok[i].kind == TOK_LIT && j < p->tok[i].len; j++)
            if (!is_digit(p->tok[i].s[j]))
                return false;
    return true;
}

/* The account segment: empty (the policy owner), "*", uin/<n>, uid/<n>,
 * uin/${var}, or a glob over digits and variables. */
static int compile_account(struct pctx *c, const char *whole, size_t wn, const char *s, size_t n,
                           struct res *r)
{
    struct pat body;
    r->acct_var = VAR__N;
    if (n == 0 || (n == 1 && s[0] == '*')) {
        r->acct_kind = n ? ACCT_ANY : ACCT_OWNER;
        return BE_OK;
    }
    bool uin = n >= 4 && !memcmp(s, "uin/", 4), uid = n >= 4 && !memcmp(s, "uid/", 4);
    if ((!uin && !uid) || n == 4 || pat_compile(c->arena, s + 4, n - 4, PF_GLOB | PF_VARS, &body) ||
        !pat_digits(&body))
        return res_fail(c, E_RESOURCE_UIN, whole, wn,
                        "account segment must be empty, *, uin/<uin> or uid/<appid> in");
    r->acct_kind = uin ? ACCT_UIN : ACCT_UID;
    if (body.ntok == 1 && body.tok[0].kind == TOK_VAR) {
        r->acct_var = body.tok[0].var;
    } else if (body.kind == PAT_EXACT && body.len <= 20 &&
               !parse_u64n(body.lit, body.len, UINT64_MAX, &r->acct_num)) {
        /* a literal number */
    } else {
        r->acct_kind = ACCT_PAT;
        pat_compile(c->arena, s, n, PF_GLOB | PF_VARS, &r->acct);
    }
    return BE_OK;
}

static int compile_segments(struct pctx *c, const char *s, size_t n, const char *seg[6],
                            const size_t len[6], struct res *r)
{
    if (len[0] != 3 || memcmp(seg[0], "qcs", 3))
        return res_fail(c, E_RESOURCE_QCS, s, n, "resource does not start with qcs: in");
    if (len[1])
        return res_fail(c, E_RESOURCE_PROJECT, s, n, "project segment must be empty in");
    if (!only_chars(seg[2], len[2], "-_*"))
        return res_fail(c, E_RESOURCE, s, n, "malformed service segment in");
    if (!only_chars(seg[3], len[3], "-_*"))
        return res_fail(c, E_RESOURCE_REGION, s, n, "malformed region segment in");
    int rc = compile_account(c, s, n, seg[4], len[4], r);
    if (rc)
        return rc;
    if (!len[5] || has_control(seg[5], len[5]))
        return res_fail(c, E_RESOURCE_CONTENT, s, n, "empty or malformed resource segment in");
    if (pat_compile(c->arena, seg[5], len[5], PF_GLOB | PF_VARS, &r->rest))
        return res_fail(c, E_RESOURCE_CONTENT, s, n,
                        "unknown variable (known: ${uin}, ${owner_uin}, ${app_id}) in");
    const unsigned ci = PF_GLOB | PF_LOWER | PF_FOLD;
    r->service = pat_any;
    r->region = pat_any;
    if (len[2])
        pat_compile(c->arena, seg[2], len[2], ci, &r->service);
    if (len[3])
        pat_compile(c->arena, seg[3], len[3], ci, &r->region);
    return BE_OK;
}

static int compile_resource(struct pctx *c, const char *s, size_t n, struct res *r)
{
    const char *seg[6];
    size_t len[6];
    memset(r, 0, sizeof(*r));
    if (n == 1 && s[0] == '*') {
        r->any = true;
        return BE_OK;
    }
    if (n == 0 || !split6(s, n, seg, len))
        return res_fail(c, E_RESOURCE, s, n,
                        "resource must be * or qcs::service:region:account:resource, not");
    return compile_segments(c, s, n, seg, len, r);
}

static int compile_resources(struct pctx *c, json_t *st, struct stmt *out)
{
    json_t *v = json_object_get(st, "resource");
    size_t n = 0;
    if (!v)
        return fail(c, E_RESOURCE, false, "resource is missing");
    path_key(c, "resource");
    int rc = string_list(c, v, E_RESOURCE, E_RESOURCE, "resource", &n);
    if (rc)
        return rc;
    struct res *res = arena_calloc(c->arena, n, sizeof(*res));
    for (size_t i = 0; i < n; i++) {
        json_t *s = list_at(v, i);
        int mark = c->depth;
        path_item(c, v, i);
        rc = compile_resource(c, json_string_value(s), json_string_length(s), &res[i]);
        if (rc)
            return rc;
        c->depth = mark;
    }
    out->res = res;
    out->nres = (uint32_t)n;
    c->depth--;
    return BE_OK;
}

/* ---- Compilation: condition ---- */

struct opspec {
    const struct opdef *def;
    uint8_t qual;
    bool if_exist;
};

static bool strip_prefix(const char **s, size_t *n, const char *prefix)
{
    size_t k = strlen(prefix);
    if (*n < k || memcmp(*s, prefix, k))
        return false;
    *s += k;
    *n -= k;
    return true;
}

static bool strip_suffix(const char *s, size_t *n, const char *suffix)
{
    size_t k = strlen(suffix);
    if (*n < k || memcmp(s + *n - k, suffix, k))
        return false;
    *n -= k;
    return true;
}

/* "[for_all_value:|for_any_value:]<operator>[_if_exist]". */
static int parse_op(struct pctx *c, const char *name, struct opspec *ret)
{
    const char *s = name;
    size_t n = strlen(name);
    char q[64];
    ret->qual = strip_prefix(&s, &n, "for_all_value:")   ? QUAL_ALL
                : strip_prefix(&s, &n, "for_any_value:") ? QUAL_ANY
                                                         : QUAL_NONE;
    ret->if_exist = strip_suffix(s, &n, "_if_exist");
    ret->def = NULL;
    for (size_t i = 0; i < N_OPS && !ret->def; i++)
        if (span_eq(s, n, ops[i].name))
            ret->def = &ops[i];
    quote(name, strlen(name), q, sizeof(q));
    if (!ret->def)
        return fail(c, E_CONDITION_TYPE, true, "unknown condition operator %s", q);
    if (ret->def->base == OP_NULL_EQ && (ret->if_exist || ret->qual != QUAL_NONE))
        return fail(c, E_CONDITION_TYPE, true,
                    "null_equal takes neither _if_exist nor a qualifier: %s", q);
    return BE_OK;
}

/* Checks that v is a scalar or a non-empty list of scalars. */
static int value_list(struct pctx *c, json_t *v, size_t *ret_n)
{
    char d[64];
    if (!json_is_array(v)) {
        if (json_is_object(v) || json_is_null(v))
            return fail(c, E_CONDITION, false,
                        "a condition value must be a string, number, "
                        "boolean or a list of them, not %s",
                        describe(v, d, sizeof(d)));
        *ret_n = 1;
        return BE_OK;
    }
    if (json_array_size(v) == 0)
        return fail(c, E_CONDITION, false, "the list of values is empty");
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *e = json_array_get(v, i);
        if (json_is_array(e) || json_is_object(e) || json_is_null(e)) {
            path_idx(c, i);
            return fail(c, E_CONDITION, false, "condition values are scalars, not %s",
                        describe(e, d, sizeof(d)));
        }
    }
    *ret_n = json_array_size(v);
    return BE_OK;
}

/* The text of a scalar used as a string: strings as they are, integers in
 * decimal, booleans as true/false. */
static const char *scalar_text(const json_t *v, char *buf, size_t size, size_t *ret_len)
{
    if (json_is_string(v)) {
        *ret_len = json_string_length(v);
        return json_string_value(v);
    }
    if (json_is_integer(v))
        snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, size, "%s", json_is_true(v) ? "true" : "false");
    else
        return NULL;
    *ret_len = strlen(buf);
    return buf;
}

static bool value_bool(const json_t *v, bool *ret)
{
    const char *s = json_string_value(v);
    if (json_is_boolean(v))
        *ret = json_is_true(v);
    else if (s && (!strcasecmp(s, "true") || !strcasecmp(s, "false")))
        *ret = !strcasecmp(s, "true");
    else
        return false;
    return true;
}

static bool value_number(const json_t *v, double *ret)
{
    if (json_is_number(v)) {
        *ret = json_number_value(v);
        return true;
    }
    return json_is_string(v) && parse_number(json_string_value(v), json_string_length(v), ret);
}

static bool value_date(const json_t *v, int64_t *ret)
{
    if (json_is_integer(v)) {
        *ret = (int64_t)json_integer_value(v);
        return true;
    }
    return json_is_string(v) && parse_date(json_string_value(v), json_string_length(v), ret);
}

static unsigned string_flags(uint8_t base)
{
    switch (base) {
    case OP_STR_EQ_IC:
        return PF_VARS | PF_LOWER | PF_FOLD;
    case OP_STR_LIKE:
        return PF_GLOB | PF_QMARK | PF_VARS;
    default:
        return PF_VARS;
    }
}

/* Compiles one value for the operator family; false when it does not fit. */
static bool compile_value(struct pctx *c, uint8_t base, uint8_t family, const json_t *v,
                          union cval *out)
{
    char buf[32];
    size_t n;
    const char *s;
    switch (family) {
    case F_STR:
        s = scalar_text(v, buf, sizeof(buf), &n);
        return s && !pat_compile(c->arena, s, n, string_flags(base), &out->pat);
    case F_NUM:
        return value_number(v, &out->num);
    case F_DATE:
        return value_date(v, &out->date);
    case F_IP:
        return json_is_string(v) &&
               parse_cidr(json_string_value(v), json_string_length(v), &out->net);
    default: /* F_BOOL, F_NULL */
        return value_bool(v, &out->b);
    }
}

static const char *family_hint(uint8_t family)
{
    switch (family) {
    case F_STR:
        return "a string (variables: ${uin}, ${owner_uin}, ${app_id})";
    case F_NUM:
        return "a number";
    case F_DATE:
        return "a date such as 2026-01-31T00:00:00Z";
    case F_IP:
        return "an IP address or CIDR range";
    default:
        return "true or false";
    }
}

static int compile_values(struct pctx *c, const struct opspec *op, json_t *v, struct cond *out)
{
    size_t n = 0;
    int rc = value_list(c, v, &n);
    if (rc)
        return rc;
    if (op->def->base == OP_NULL_EQ && n != 1)
        return fail(c, E_CONDITION_CONTENT, false, "null_equal takes one value, true or false");
    union cval *vals = arena_calloc(c->arena, n, sizeof(*vals));
    for (size_t i = 0; i < n; i++) {
        json_t *e = list_at(v, i);
        char d[64];
        if (compile_value(c, op->def->base, op->def->family, e, &vals[i]))
            continue;
        path_item(c, v, i);
        return fail(c, E_CONDITION_CONTENT, false, "%s wants %s, not %s", op->def->name,
                    family_hint(op->def->family), describe(e, d, sizeof(d)));
    }
    out->val = vals;
    out->nval = (uint32_t)n;
    return BE_OK;
}

static int compile_cond(struct pctx *c, const struct opspec *op, const char *key, json_t *v,
                        struct cond *out)
{
    size_t kn = strlen(key);
    char q[64];
    quote(key, kn, q, sizeof(q));
    if (kn == 0 || kn > CAM_CONDITION_KEY_MAX || has_control(key, kn))
        return fail(c, E_CONDITION, true, "malformed condition key %s", q);
    int b = builtin_key(key, kn);
    if (b >= 0 && !(builtin_keys[b].families & op->def->family))
        return fail(c, E_CONDITION, true, "%s cannot be compared with %s", q, op->def->name);
    *out = (struct cond){
        op->def->base, op->qual,     b >= 0 ? builtin_keys[b].id : KEY_EXTRA, op->def->negate,
        op->if_exist,  (uint32_t)kn, arena_strndup(c->arena, key, kn),        0,
        NULL};
    return compile_values(c, op, v, out);
}

/* Validates the condition block's shape and counts its (operator, key)
 * pairs. */
static int count_conds(struct pctx *c, json_t *v, size_t *ret_n)
{
    const char *op;
    json_t *keys;
    char d[64];
    size_t n = 0;
    if (!json_is_object(v) || json_object_size(v) == 0)
        return fail(c, E_CONDITION, false, "condition must be a non-empty object, not %s",
                    json_is_object(v) ? "an empty one" : describe(v, d, sizeof(d)));
    json_object_foreach(v, op, keys)
    {
        if (!json_is_object(keys) || json_object_size(keys) == 0) {
            path_key(c, op);
            return fail(c, E_CONDITION, false,
                        "an operator takes a non-empty object of condition keys, not %s",
                        json_is_object(keys) ? "an empty one" : describe(keys, d, sizeof(d)));
        }
        n += json_object_size(keys);
    }
    *ret_n = n;
    return BE_OK;
}

static int compile_operator(struct pctx *c, const char *name, json_t *keys, struct cond *out,
                            size_t *at)
{
    struct opspec op;
    const char *key;
    json_t *v;
    path_key(c, name);
    int rc = parse_op(c, name, &op);
    if (rc)
        return rc;
    json_object_foreach(keys, key, v)
    {
        path_key(c, key);
        rc = compile_cond(c, &op, key, v, &out[(*at)++]);
        if (rc)
            return rc;
        c->depth--;
    }
    c->depth--;
    return BE_OK;
}

static int compile_conditions(struct pctx *c, json_t *st, struct stmt *out)
{
    json_t *v = json_object_get(st, "condition"), *keys;
    const char *name;
    size_t n = 0, at = 0;
    if (!v)
        return BE_OK;
    path_key(c, "condition");
    int rc = count_conds(c, v, &n);
    if (rc)
        return rc;
    struct cond *conds = arena_calloc(c->arena, n, sizeof(*conds));
    json_object_foreach(v, name, keys)
    {
        rc = compile_operator(c, name, keys, conds, &at);
        if (rc)
            return rc;
    }
    out->cond = conds;
    out->ncond = (uint32_t)n;
    c->depth--;
    return BE_OK;
}

/* ---- Compilation: statements and the document ---- */

static int compile_statement(struct pctx *c, json_t *st, struct stmt *out)
{
    static const char *const elements[] = {"effect", "action", "resource", "condition", NULL};
    char d[64];
    if (!json_is_object(st))
        return fail(c, E_STATEMENT, false, "a statement is an object, not %s",
                    describe(st, d, sizeof(d)));
    int rc = check_elements(c, st, elements, E_STATEMENT);
    if (!rc)
        rc = compile_effect(c, st, out);
    if (!rc)
        rc = compile_actions(c, st, out);
    if (!rc)
        rc = compile_resources(c, st, out);
    if (!rc)
        rc = compile_conditions(c, st, out);
    return rc;
}

static int compile_statements(struct pctx *c, json_t *root, struct cam_policy *p)
{
    json_t *v = json_object_get(root, "statement");
    char d[64];
    if (!v)
        return fail(c, E_STATEMENT, false, "statement is missing");
    path_key(c, "statement");
    if (!json_is_array(v) && !json_is_object(v))
        return fail(c, E_STATEMENT, false, "statement must be a list of objects, not %s",
                    describe(v, d, sizeof(d)));
    size_t n = json_is_array(v) ? json_array_size(v) : 1;
    if (n == 0)
        return fail(c, E_STATEMENT, false, "statement is an empty list");
    struct stmt *st = arena_calloc(c->arena, n, sizeof(*st));
    for (size_t i = 0; i < n; i++) {
        int mark = c->depth;
        path_item(c, v, i);
        int rc = compile_statement(c, list_at(v, i), &st[i]);
        if (rc)
            return rc;
        c->depth = mark;
    }
    p->stmt = st;
    p->nstmt = (uint32_t)n;
    return BE_OK;
}

static int compile_document(struct pctx *c, json_t *root, struct cam_policy *p)
{
    static const char *const elements[] = {"version", "statement", NULL};
    if (!json_is_object(root))
        return fail(c, E_DOCUMENT, false, "a policy document is a JSON object");
    int rc = check_elements(c, root, elements, E_DOCUMENT);
    if (!rc)
        rc = check_version(c, root);
    if (!rc)
        rc = compile_statements(c, root, p);
    return rc;
}

static int json_fail(struct cam_policy_error *err, const json_error_t *jerr)
{
    err->code = E_DOCUMENT;
    snprintf(err->message, sizeof(err->message), "not valid JSON: %s", jerr->text);
    ascii_only(err->message);
    err->line = jerr->line > 0 ? jerr->line : 1;
    err->column = jerr->column > 0 ? jerr->column : 1;
    return BE_INVALID_PARAMETER;
}

int cam_policy_parse(const char *text, size_t len, struct cam_policy **ret,
                     struct cam_policy_error *err)
{
    struct cam_policy_error scratch;
    struct cam_policy *p = NULL;
    json_t *root = NULL;
    json_error_t jerr;
    const char *json;
    char *owned = NULL;
    if (!err)
        err = &scratch;
    *err = (struct cam_policy_error){NULL, "", 0, 0};
    int rc = document_text(text ? text : "", text ? len : 0, &json, &len, &owned, err);
    if (rc)
        goto out;
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        rc = json_fail(err, &jerr);
        goto out;
    }
    p = xcalloc(1, sizeof(*p));
    atomic_init(&p->refs, 1);
    struct pctx c = {json, len, &p->arena, err, 0, {NULL}, {0}};
    rc = compile_document(&c, root, p);
    if (rc)
        goto out;
    *ret = p;
    p = NULL;
out:
    cam_policy_free(p);
    json_decref(root);
    free(owned);
    return rc;
}

struct cam_policy *cam_policy_ref(struct cam_policy *p)
{
    atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
    return p;
}

void cam_policy_free(struct cam_policy *p)
{
    if (!p || atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
        return;
    arena_release(&p->arena);
    free(p);
}

size_t cam_policy_statement_count(const struct cam_policy *p)
{
    return p->nstmt;
}

/* ---- Policy sets ---- */

struct entry {
    const struct stmt *s;
    uint64_t owner;
    uint32_t att, idx;
};

/* The statements of one effect, bucketed by service: bucket b lists, in
 * attachment then document order, the entries with an action whose service
 * hashes to b (a statement with a `*` service is in every bucket). A request
 * visits only its own service's bucket. */
struct elist {
    size_t n;
    struct entry *e;
    uint32_t start[SERVICE_BUCKETS + 1]; /* bucket b is idx[start[b] .. start[b + 1]) */
    uint32_t *idx;
};

struct cam_policy_set {
    size_t natt;
    struct cam_policy_attachment *att;
    struct elist deny, allow;
};

static void elist_add(struct elist *l, const struct stmt *s, uint64_t owner, size_t att, uint32_t i)
{
    l->e[l->n++] = (struct entry){s, owner, (uint32_t)att, i};
}

/* Builds the buckets of l once its entries are in. */
static void elist_index(struct elist *l)
{
    uint32_t count[SERVICE_BUCKETS] = {0}, at[SERVICE_BUCKETS];
    for (size_t i = 0; i < l->n; i++)
        for (int b = 0; b < SERVICE_BUCKETS; b++)
            count[b] += (l->e[i].s->svc_mask >> b) & 1;
    l->start[0] = 0;
    for (int b = 0; b < SERVICE_BUCKETS; b++)
        l->start[b + 1] = l->start[b] + count[b];
    l->idx = xcalloc(l->start[SERVICE_BUCKETS] ? l->start[SERVICE_BUCKETS] : 1, sizeof(*l->idx));
    memcpy(at, l->start, sizeof(at));
    for (size_t i = 0; i < l->n; i++)
        for (int b = 0; b < SERVICE_BUCKETS; b++)
            if ((l->e[i].s->svc_mask >> b) & 1)
                l->idx[at[b]++] = (uint32_t)i;
}

static void set_fill(struct cam_policy_set *set)
{
    for (size_t a = 0; a < set->natt; a++) {
        const struct cam_policy *p = set->att[a].policy;
        for (uint32_t i = 0; i < p->nstmt; i++)
            elist_add(p->stmt[i].deny ? &set->deny : &set->allow, &p->stmt[i],
                      set->att[a].owner_uin, a, i);
    }
    elist_index(&set->deny);
    elist_index(&set->allow);
}

int cam_policy_set_new(const struct cam_policy_attachment *items, size_t n,
                       struct cam_policy_set **ret, struct be_diag *diag)
{
    size_t ndeny = 0, nallow = 0;
    if (n > CAM_POLICY_SET_MAX)
        return be_fail(diag, BE_INVALID_PARAMETER, "%zu policies in one set; the most is %d", n,
                       CAM_POLICY_SET_MAX);
    struct cam_policy_set *set = xcalloc(1, sizeof(*set));
    set->att = xcalloc(n ? n : 1, sizeof(*set->att));
    set->natt = n;
    for (size_t a = 0; a < n; a++) {
        assert(items[a].policy);
        set->att[a] = items[a];
        cam_policy_ref(items[a].policy);
        for (uint32_t i = 0; i < items[a].policy->nstmt; i++) {
            if (items[a].policy->stmt[i].deny)
                ndeny++;
            else
                nallow++;
        }
    }
    set->deny.e = xcalloc(ndeny ? ndeny : 1, sizeof(*set->deny.e));
    set->allow.e = xcalloc(nallow ? nallow : 1, sizeof(*set->allow.e));
    set_fill(set);
    *ret = set;
    return BE_OK;
}

void cam_policy_set_free(struct cam_policy_set *set)
{
    if (!set)
        return;
    for (size_t a = 0; a < set->natt; a++)
        cam_policy_free(set->att[a].policy);
    free(set->att);
    free(set->deny.idx);
    free(set->deny.e);
    free(set->allow.idx);
    free(set->allow.e);
    free(set);
}

size_t cam_policy_set_count(const struct cam_policy_set *set)
{
    return set->natt;
}

/* ---- Computed keys ---- */

/* Both take lowercase "service:name" text (the prepared request's form). */

static bool lc_prefix(const char *s, size_t n, const char *lit, size_t k)
{
    return n >= k && memcmp(s, lit, k) == 0;
}

#define LIT(s) s, sizeof(s) - 1

static bool name_read_only(const char *name, size_t n)
{
    switch (n ? name[0] : 0) {
    case 'b':
        return lc_prefix(name, n, LIT("batchget")) || lc_prefix(name, n, LIT("batchquery"));
    case 'c':
        return lc_prefix(name, n, LIT("check")) || lc_prefix(name, n, LIT("compare"));
    case 'd':
        return lc_prefix(name, n, LIT("describe")) || lc_prefix(name, n, LIT("download"));
    case 'e':
        return lc_prefix(name, n, LIT("export"));
    case 'g':
        return lc_prefix(name, n, LIT("get"));
    case 'i':
        return lc_prefix(name, n, LIT("inquiry")) || lc_prefix(name, n, LIT("inquire"));
    case 'l':
        return lc_prefix(name, n, LIT("list"));
    case 'q':
        return lc_prefix(name, n, LIT("query"));
    case 's':
        return lc_prefix(name, n, LIT("search"));
    case 'v':
        return lc_prefix(name, n, LIT("view")) || lc_prefix(name, n, LIT("verify")) ||
               lc_prefix(name, n, LIT("validate"));
    default:
        return false;
    }
}

static bool except_cam_finance(const char *svc, size_t sn, const char *name, size_t n)
{
    static const char *const cam_kept[] = {"addsubaccount",
                                           "adduser",
                                           "updateuser",
                                           "addusertogroup",
                                           "removeuserfromgroup",
                                           "creategroup",
                                           "updategroup",
                                           "createcollapikey",
                                           "createprojectkey",
                                           "createaccesskey",
                                           "updateaccesskey",
                                           "deleteaccesskey",
                                           NULL};
    if (span_eq(svc, sn, "finance"))
        return false;
    if (!span_eq(svc, sn, "cam") || name_read_only(name, n))
        return true;
    for (size_t i = 0; cam_kept[i]; i++)
        if (span_eq(name, n, cam_kept[i]))
            return true;
    return false;
}

/* Lowercases "service:name" into out (CAM_ACTION_MAX + 1 bytes); false when
 * it is not of that shape or too long. */
static bool lower_action(const char *action, char *out, size_t *ret_sn, size_t *ret_n)
{
    size_t n = action ? strnlen(action, CAM_ACTION_MAX + 1) : 0;
    const char *colon = n ? memchr(action, ':', n) : NULL;
    if (!colon || n > CAM_ACTION_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        out[i] = lower(action[i]);
    out[n] = '\0';
    *ret_sn = (size_t)(colon - action);
    *ret_n = n;
    return true;
}

bool cam_action_is_read_only(const char *action)
{
    char lc[CAM_ACTION_MAX + 1];
    size_t sn, n;
    return lower_action(action, lc, &sn, &n) && name_read_only(lc + sn + 1, n - sn - 1);
}

bool cam_action_except_cam_finance(const char *action)
{
    char lc[CAM_ACTION_MAX + 1];
    size_t sn, n;
    return lower_action(action, lc, &sn, &n) && except_cam_finance(lc, sn, lc + sn + 1, n - sn - 1);
}

/* ---- Preparing a request ---- */

static int rq_action(struct rq *r, const char *action, struct be_diag *diag)
{
    size_t sn, n;
    if (!lower_action(action, r->action, &sn, &n))
        return be_fail(diag, BE_INVALID_PARAMETER,
                       "action %.64s is not service:Name of at most %d bytes",
                       action ? action : "(null)", CAM_ACTION_MAX);
    size_t nn = n - sn - 1;
    if (!sn || !nn || !only_chars(r->action, sn, "-_") ||
        !only_chars(r->action + sn + 1, nn, "-_."))
        return be_fail(diag, BE_INVALID_PARAMETER, "action %.64s is not service:Name", action);
    r->svc_len = (uint8_t)sn;
    r->name_len = (uint8_t)nn;
    r->svc_hash = service_hash(action, sn);
    return BE_OK;
}

static void rq_set_var(struct rq *r, int v, uint64_t num)
{
    r->var[v].len = (uint8_t)fmt_u64(num, r->var[v].s);
}

static void rq_account(struct rq *r, const char *s, size_t n)
{
    uint64_t num;
    bool uin = n > 4 && !memcmp(s, "uin/", 4), uid = n > 4 && !memcmp(s, "uid/", 4);
    r->acct_kind = RACCT_OTHER;
    r->acct_implicit = n == 0;
    if (n == 0) {
        memcpy(r->acct_buf, "uin/", 4);
        r->acct_buf_len = (uint8_t)(4 + fmt_u64(r->owner_uin, r->acct_buf + 4));
        r->acct_kind = RACCT_UIN;
        r->acct_num = r->owner_uin;
    } else if ((uin || uid) && !parse_u64n(s + 4, n - 4, UINT64_MAX, &num)) {
        r->acct_kind = uin ? RACCT_UIN : RACCT_UID;
        r->acct_num = num;
    }
}

static int rq_resource(struct rq *r, const char *res, struct be_diag *diag)
{
    size_t n = res ? strnlen(res, CAM_RESOURCE_MAX + 1) : 0;
    const char *seg[6];
    size_t len[6];
    if (!res || n > CAM_RESOURCE_MAX)
        return be_fail(diag, BE_INVALID_PARAMETER, "resource is missing or longer than %d bytes",
                       CAM_RESOURCE_MAX);
    r->res = res;
    r->res_any = n == 1 && res[0] == '*';
    if (r->res_any)
        return BE_OK;
    if (!split6(res, n, seg, len) || !span_eq(seg[0], len[0], "qcs") || !len[5])
        return be_fail(diag, BE_INVALID_PARAMETER,
                       "resource %.64s is neither * nor a six-segment qcs string", res);
    for (int i = 0; i < SEG__N; i++) {
        r->seg_off[i] = (uint32_t)(seg[i + 2] - res);
        r->seg_len[i] = (uint32_t)len[i + 2];
    }
    rq_account(r, seg[4], len[4]);
    return BE_OK;
}

static struct rq_val *rq_push(struct rq *r, enum key_id key)
{
    struct rq_val *v = &r->val[r->nval];
    r->key[key] = (struct rq_span){r->nval, 1};
    r->nval++;
    return v;
}

static void rq_flag(struct rq *r, enum key_id key, bool on)
{
    struct rq_val *v = rq_push(r, key);
    *v = (struct rq_val){on ? "1" : "0", 1, HAS_STR | HAS_NUM | HAS_BOOL, on, on, 0, {0, 0, 0}};
}

static void rq_uin(struct rq *r, enum key_id key, int var, uint64_t num)
{
    struct rq_val *v = rq_push(r, key);
    *v = (struct rq_val){r->var[var].s, r->var[var].len, HAS_STR | HAS_NUM, false, (double)num, 0,
                         {0, 0, 0}};
}

static void rq_builtin(struct rq *r, const struct cam_eval_input *in)
{
    const char *name = r->action + r->svc_len + 1;
    if (in->source_ip.family != CAM_IP_NONE) {
        struct rq_val *v = rq_push(r, KEY_IP);
        *v = (struct rq_val){NULL, 0, HAS_IP, false, 0, 0, ipaddr_of(&in->source_ip)};
    }
    struct rq_val *t = rq_push(r, KEY_TIME);
    *t = (struct rq_val){NULL, 0, HAS_NUM | HAS_DATE, false, (double)in->now, in->now, {0, 0, 0}};
    rq_uin(r, KEY_UIN, VAR_UIN, in->caller_uin);
    rq_uin(r, KEY_OWNER_UIN, VAR_OWNER_UIN, in->owner_uin);
    if (in->mfa != CAM_MFA_UNKNOWN) {
        bool yes = in->mfa == CAM_MFA_YES;
        struct rq_val *v = rq_push(r, KEY_MFA);
        *v = (struct rq_val){
            yes ? "true" : "false", yes ? 4 : 5, HAS_STR | HAS_BOOL, yes, 0, 0, {0, 0, 0}};
    }
    rq_flag(r, KEY_READ_ONLY, name_read_only(name, r->name_len));
    rq_flag(r, KEY_EXCEPT_CAM_FINANCE,
            except_cam_finance(r->action, r->svc_len, name, r->name_len));
}

/* Types one extra context value in every form it parses as. */
static struct rq_val rq_typed(const char *s)
{
    struct rq_val v = {s, (uint32_t)strlen(s), HAS_STR, false, 0, 0, {0, 0, 0}};
    struct cam_ip ip;
    if (parse_number(s, v.len, &v.num))
        v.has |= HAS_NUM;
    if (parse_date(s, v.len, &v.date))
        v.has |= HAS_DATE;
    if (!strcasecmp(s, "true") || !strcasecmp(s, "false")) {
        v.has |= HAS_BOOL;
        v.b = !strcasecmp(s, "true");
    }
    if (!cam_ip_parse(s, &ip)) {
        v.has |= HAS_IP;
        v.ip = ipaddr_of(&ip);
    }
    return v;
}

static int rq_check_key(const char *key, struct be_diag *diag)
{
    size_t n = key ? strnlen(key, CAM_CONDITION_KEY_MAX + 1) : 0;
    if (!n || n > CAM_CONDITION_KEY_MAX)
        return be_fail(diag, BE_INVALID_PARAMETER, "context key is empty or too long");
    if (builtin_key(key, n) >= 0)
        return be_fail(diag, BE_INVALID_PARAMETER,
                       "context key %s is built in; set it through its own field", key);
    return BE_OK;
}

/* Groups the extra values by key, in order of first appearance. */
static int rq_extra(struct rq *r, const struct cam_eval_input *in, struct be_diag *diag)
{
    if (in->n_context > CAM_CONTEXT_MAX)
        return be_fail(diag, BE_INVALID_PARAMETER, "%zu context values; the most is %d",
                       in->n_context, CAM_CONTEXT_MAX);
    for (size_t i = 0; i < in->n_context; i++) {
        const char *key = in->context[i].key;
        int rc = rq_check_key(key, diag);
        if (rc)
            return rc;
        const char *value = in->context[i].value;
        if (!value || strnlen(value, CAM_CONTEXT_VALUE_MAX + 1) > CAM_CONTEXT_VALUE_MAX)
            return be_fail(diag, BE_INVALID_PARAMETER,
                           "context key %s has no value or one longer than %d bytes", key,
                           CAM_CONTEXT_VALUE_MAX);
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = !strcmp(in->context[j].key, key);
        if (seen)
            continue;
        size_t first = r->nval;
        for (size_t j = i; j < in->n_context; j++)
            if (!strcmp(in->context[j].key, key))
                r->val[r->nval++] = rq_typed(in->context[j].value);
        r->extra[r->nextra++] = (struct rq_extra){
            key, (uint32_t)strlen(key), {(uint8_t)first, (uint8_t)(r->nval - first)}};
    }
    return BE_OK;
}

int cam_eval_request_init(struct cam_eval_request *req, const struct cam_eval_input *in,
                          struct be_diag *diag)
{
    struct rq *r = rq_of(req);
    /* Only what evaluation reads is set: zeroing the whole buffer would cost
     * more than a decision. */
    memset(r->key, 0, sizeof(r->key));
    r->nval = 0;
    r->nextra = 0;
    r->var[VAR_APP_ID].len = 0;
    r->owner_uin = in->owner_uin;
    r->caller_uin = in->caller_uin;
    r->app_id = in->app_id;
    int rc = rq_action(r, in->action, diag);
    if (!rc)
        rc = rq_resource(r, in->resource, diag);
    if (rc)
        return rc;
    rq_set_var(r, VAR_UIN, in->caller_uin);
    rq_set_var(r, VAR_OWNER_UIN, in->owner_uin);
    if (in->app_id)
        rq_set_var(r, VAR_APP_ID, in->app_id);
    rq_builtin(r, in);
    return rq_extra(r, in, diag);
}

/* ---- Evaluation ---- */

static bool act_match(const struct act *a, const struct rq *r)
{
    if (a->svc && (a->svc_hash != r->svc_hash || a->svc_len != r->svc_len ||
                   memcmp(a->svc, r->action, a->svc_len)))
        return false;
    return pat_match(&a->name, r->action + r->svc_len + 1, r->name_len, r);
}

static uint64_t res_var(const struct rq *r, uint8_t var)
{
    return var == VAR_UIN ? r->caller_uin : var == VAR_OWNER_UIN ? r->owner_uin : r->app_id;
}

/* Whether the request's account is uin/<uin> (or its uid/<appid> alias). */
static bool rq_acct_is_uin(const struct rq *r, uint64_t uin)
{
    if (r->acct_kind == RACCT_UIN)
        return r->acct_num == uin;
    return r->acct_kind == RACCT_UID && r->app_id && r->acct_num == r->app_id &&
           uin == r->owner_uin;
}

static bool rq_acct_is_uid(const struct rq *r, uint64_t appid)
{
    if (r->acct_kind == RACCT_UID)
        return r->acct_num == appid;
    return r->acct_kind == RACCT_UIN && r->app_id && appid == r->app_id &&
           r->acct_num == r->owner_uin;
}

static bool acct_match(const struct res *p, uint64_t owner, const struct rq *r)
{
    uint64_t num = p->acct_var == VAR__N ? p->acct_num : res_var(r, p->acct_var);
    switch (p->acct_kind) {
    case ACCT_ANY:
        return true;
    case ACCT_OWNER:
        return rq_acct_is_uin(r, owner);
    case ACCT_UIN:
        return num && rq_acct_is_uin(r, num);
    case ACCT_UID:
        return num && rq_acct_is_uid(r, num);
    default:
        if (r->acct_implicit)
            return pat_match(&p->acct, r->acct_buf, r->acct_buf_len, r);
        return pat_match(&p->acct, r->res + r->seg_off[SEG_ACCOUNT], r->seg_len[SEG_ACCOUNT], r);
    }
}

static bool seg_match(const struct pat *p, const struct rq *r, int seg)
{
    return pat_match(p, r->res + r->seg_off[seg], r->seg_len[seg], r);
}

static bool res_match(const struct res *p, uint64_t owner, const struct rq *r)
{
    if (p->any)
        return true;
    if (r->res_any) /* an operation-level action: only "*" grants it */
        return false;
    return acct_match(p, owner, r) && seg_match(&p->service, r, SEG_SERVICE) &&
           seg_match(&p->rest, r, SEG_REST) && seg_match(&p->region, r, SEG_REGION);
}

static bool num_cmp(uint8_t base, double v, double p)
{
    switch (base) {
    case OP_NUM_EQ:
        return v == p;
    case OP_NUM_LT:
        return v < p;
    case OP_NUM_LE:
        return v <= p;
    case OP_NUM_GT:
        return v > p;
    default:
        return v >= p;
    }
}

static bool date_cmp(uint8_t base, int64_t v, int64_t p)
{
    switch (base) {
    case OP_DATE_EQ:
        return v == p;
    case OP_DATE_LT:
        return v < p;
    case OP_DATE_LE:
        return v <= p;
    case OP_DATE_GT:
        return v > p;
    default:
        return v >= p;
    }
}

/* One context value against one policy value, positive form. */
static bool value_match(uint8_t base, const struct rq_val *v, const union cval *p,
                        const struct rq *r)
{
    switch (base) {
    case OP_STR_EQ:
    case OP_STR_EQ_IC:
    case OP_STR_LIKE:
    case OP_BIN_EQ:
        return (v->has & HAS_STR) && pat_match(&p->pat, v->s, v->len, r);
    case OP_NUM_EQ:
    case OP_NUM_LT:
    case OP_NUM_LE:
    case OP_NUM_GT:
    case OP_NUM_GE:
        return (v->has & HAS_NUM) && num_cmp(base, v->num, p->num);
    case OP_BOOL_EQ:
        return (v->has & HAS_BOOL) && v->b == p->b;
    case OP_IP_EQ:
        return (v->has & HAS_IP) && ipnet_contains(&p->net, &v->ip);
    default:
        return (v->has & HAS_DATE) && date_cmp(base, v->date, p->date);
    }
}

/* Whether one context value satisfies the operator (any policy value
 * matches, negated for the not_ operators). */
static bool value_sat(const struct cond *c, const struct rq_val *v, const struct rq *r)
{
    bool any = false;
    for (uint32_t i = 0; i < c->nval && !any; i++)
        any = value_match(c->base, v, &c->val[i], r);
    return any != c->negate;
}

static struct rq_span cond_values(const struct cond *c, const struct rq *r)
{
    if (c->key_id != KEY_EXTRA)
        return r->key[c->key_id];
    for (uint8_t i = 0; i < r->nextra; i++)
        if (r->extra[i].len == c->key_len && !memcmp(r->extra[i].name, c->key, c->key_len))
            return r->extra[i].span;
    return (struct rq_span){0, 0};
}

/* Missing keys: _if_exist holds; a negated operator without qualifier holds
 * (nothing there equals the values); everything else fails. */
static bool cond_holds(const struct cond *c, const struct rq *r)
{
    struct rq_span sp = cond_values(c, r);
    if (c->base == OP_NULL_EQ)
        return (sp.count == 0) == c->val[0].b;
    if (sp.count == 0)
        return c->if_exist || (c->negate && c->qual == QUAL_NONE);
    const struct rq_val *v = &r->val[sp.first];
    if (c->qual == QUAL_ALL) {
        for (uint8_t i = 0; i < sp.count; i++)
            if (!value_sat(c, &v[i], r))
                return false;
        return true;
    }
    if (c->qual == QUAL_ANY) {
        for (uint8_t i = 0; i < sp.count; i++)
            if (value_sat(c, &v[i], r))
                return true;
        return false;
    }
    /* no qualifier: some context value matches some policy value, negated
     * as a whole for the not_ operators */
    bool any = false;
    for (uint8_t i = 0; i < sp.count && !any; i++)
        any = value_sat(c, &v[i], r) != c->negate;
    return any != c->negate;
}

static bool stmt_applies(const struct stmt *s, uint64_t owner, const struct rq *r)
{
    bool ok = false;
    for (uint32_t i = 0; i < s->nact && !ok; i++)
        ok = act_match(&s->act[i], r);
    if (!ok)
        return false;
    ok = false;
    for (uint32_t i = 0; i < s->nres && !ok; i++)
        ok = res_match(&s->res[i], owner, r);
    for (uint32_t i = 0; i < s->ncond && ok; i++)
        ok = cond_holds(&s->cond[i], r);
    return ok;
}

static const struct entry *first_applying(const struct elist *l, const struct rq *r)
{
    unsigned b = (unsigned)(r->svc_hash % SERVICE_BUCKETS);
    for (uint32_t k = l->start[b]; k < l->start[b + 1]; k++) {
        const struct entry *e = &l->e[l->idx[k]];
        if (stmt_applies(e->s, e->owner, r))
            return e;
    }
    return NULL;
}

static const struct entry *decide(const struct cam_policy_set *set, const struct rq *r,
                                  int *ret_result)
{
    const struct entry *e = first_applying(&set->deny, r);
    if (e) {
        *ret_result = CAM_DENY;
        return e;
    }
    e = first_applying(&set->allow, r);
    *ret_result = e ? CAM_ALLOW : CAM_DENY;
    return e;
}

int cam_decide(const struct cam_policy_set *set, const struct cam_eval_request *req)
{
    int result;
    if (!set)
        return CAM_DENY;
    decide(set, rq_const(req), &result);
    return result;
}

int cam_decide_explain(const struct cam_policy_set *set, const struct cam_eval_request *req,
                       struct cam_decision *ret)
{
    int result = CAM_DENY;
    const struct entry *e = set ? decide(set, rq_const(req), &result) : NULL;
    *ret = (struct cam_decision){result, e != NULL, 0, 0, 0};
    if (e) {
        ret->attachment = e->att;
        ret->policy_id = set->att[e->att].policy_id;
        ret->statement = e->idx;
    }
    return result;
}

/* ---- Preset policies ---- */

#define READ_ONLY_CONDITION "\"condition\":{\"numeric_equal\":{\"qcs:read_only_action\":1}}"

const struct cam_preset cam_presets[] = {
    {1, "AdministratorAccess", "",
     "Full access to every service and resource, including users, permissions and finance.",
     "{\"version\":\"2.0\",\"statement\":[{\"action\":\"*\",\"effect\":\"allow\","
     "\"resource\":\"*\"}]}"},
    {2, "ReadOnlyAccess", "",
     "Read-only access to every service (actions named Get*, List*, Describe*, ...).",
     "{\"version\":\"2.0\",\"statement\":[{\"action\":\"*\",\"effect\":\"allow\","
     "\"resource\":\"*\"," READ_ONLY_CONDITION "}]}"},
    {3, "QCloudResourceFullAccess", "",
     "Full access to every cloud resource, without finance and with only a subset of CAM "
     "(sub-user attributes and keys, group membership, read-only CAM).",
     "{\"version\":\"2.0\",\"statement\":[{\"action\":\"*\",\"effect\":\"allow\","
     "\"resource\":\"*\",\"condition\":{\"numeric_equal\":{\"qcs:except_cam_finance\":1}}}]}"},
    {4, "QcloudCamFullAccess", "cam",
     "Full access to access management: users, groups, policies, roles and API keys.",
     "{\"version\":\"2.0\",\"statement\":[{\"action\":\"name/cam:*\",\"effect\":\"allow\","
     "\"resource\":\"*\"}]}"},
    {5, "QcloudCamReadOnlyAccess", "cam", "Read-only access to access management.",
     "{\"version\":\"2.0\",\"statement\":[{\"action\":\"name/cam:*\",\"effect\":\"allow\","
     "\"resource\":\"*\"," READ_ONLY_CONDITION "}]}"},
    {6, "QcloudBinderyLinkFullAccess", "wxlink",
     "Full access to Bindery links (关联) with WeChat Official Accounts and Mini Programs.",
     "{\"version\":\"2.0\",\"statement\":[{\"action\":\"name/wxlink:*\",\"effect\":\"allow\","
     "\"resource\":\"*\"}]}"},
    {7, "QcloudBinderyLinkReadOnlyAccess", "wxlink", "Read-only access to Bindery links.",
     "{\"version\":\"2.0\",\"statement\":[{\"action\":\"name/wxlink:*\",\"effect\":\"allow\","
     "\"resource\":\"*\"," READ_ONLY_CONDITION "}]}"},
    {8, "QcloudBinderyDeployFullAccess", "deploy",
     "Full access to Bindery deploy (部署) and the developer tools' own actions (devices, "
     "console sign-in links).",
     "{\"version\":\"2.0\",\"statement\":[{\"action\":[\"name/deploy:*\",\"name/devtools:*\"],"
     "\"effect\":\"allow\",\"resource\":\"*\"}]}"},
    {9, "QcloudBinderyDeployReadOnlyAccess", "deploy",
     "Read-only access to Bindery deploy and the developer tools' devices.",
     "{\"version\":\"2.0\",\"statement\":[{\"action\":[\"name/deploy:*\",\"name/devtools:*\"],"
     "\"effect\":\"allow\",\"resource\":\"*\"," READ_ONLY_CONDITION "}]}"},
    {10, "QcloudBinderyDevToolsAccess", "devtools",
     "The developer tools' own actions only: approve device logins, list and revoke devices, "
     "mint console sign-in links.",
     "{\"version\":\"2.0\",\"statement\":[{\"action\":\"name/devtools:*\",\"effect\":\"allow\","
     "\"resource\":\"*\"}]}"},
    {0, NULL, NULL, NULL, NULL},
};

const struct cam_preset *cam_preset_by_id(uint64_t id)
{
    for (const struct cam_preset *p = cam_presets; p->name; p++)
        if (p->id == id)
            return p;
    return NULL;
}

const struct cam_preset *cam_preset_by_name(const char *name)
{
    for (const struct cam_preset *p = cam_presets; name && p->name; p++)
        if (!strcmp(p->name, name))
            return p;
    return NULL;
}
