/* GET parameters of API 3.0 (spec cam-and-api.md 4.1): the SDKs flatten the
 * nested request object into dotted names with zero-based indices,
 *
 *     Info.0.GroupId=2020&Info.0.Uid=1001408&PolicyId.0=1000&Name=bob
 *
 * and this module rebuilds the object a POST would have carried,
 *
 *     {"Info":[{"GroupId":"2020","Uid":"1001408"}],"PolicyId":["1000"],"Name":"bob"}
 *
 * Every value stays a string; the action's parameter reader coerces it to the
 * declared type. X-TC-* values travel as headers in API 3.0, so every query
 * parameter is an action parameter. */
#ifndef BINDERY_API_QUERY_H
#define BINDERY_API_QUERY_H

#include <stddef.h>

#include <jansson.h>

#include "core/err.h"

#define API_QUERY_MAX_LEN    32768 /* bytes of raw query (the 3.0 GET limit) */
#define API_QUERY_MAX_PARAMS 1000  /* name=value pairs */
#define API_QUERY_MAX_DEPTH  8     /* dotted segments in one name */
#define API_QUERY_MAX_NAME   256   /* bytes of one decoded name */

/* Rebuilds the nested object from query (the raw query string without '?',
 * len bytes, need not be NUL-terminated; NULL allowed when len is 0).
 *
 * Decoding is application/x-www-form-urlencoded: pairs split on '&' (empty
 * pairs skipped), name and value split on the first '=' (a pair without '='
 * has the value ""), "%XX" decoded, and '+' decoded as a space. The last is
 * what the SDKs mean by it: the Python (urlencode) and Go (url.Values) SDKs
 * send a space as '+', Node sends "%20", and all three send a literal '+' as
 * "%2B", so a raw '+' is never meant as a plus sign.
 *
 * A name is 1..API_QUERY_MAX_DEPTH segments separated by '.'. A segment of
 * digits is an array index: "0" or without leading zeros, below the number
 * of parameters; any other segment is an object member name of printable
 * ASCII (no space, no control character, no '.'). The first segment is a
 * member name. The indices of each array must come out as 0..n-1, in any
 * order of the parameters (Go sorts "X.10" before "X.2").
 *
 * On success stores a new object in *ret (the caller owns the reference,
 * json_decref() it) and returns 0; *ret is untouched on failure. Errors, with
 * a message in diag (may be NULL) that names the offending parameter:
 *   BE_BODY_TOO_LARGE      len > API_QUERY_MAX_LEN.
 *   BE_INVALID_PARAMETER   more than API_QUERY_MAX_PARAMS pairs; a bad
 *                          escape ('%' not followed by two hex digits); a
 *                          decoded NUL; a value or name that is not UTF-8; an
 *                          empty name or segment; a name longer than
 *                          API_QUERY_MAX_NAME or deeper than
 *                          API_QUERY_MAX_DEPTH; a bad index; a name given
 *                          twice; a name used both as a value and as a
 *                          container, or as both an array and an object
 *                          ("A=1&A.0=2", "A.0=1&A.B=2"); a gap in an array's
 *                          indices ("A.1=x" without "A.0"). */
int api_query_to_json(const char *query, size_t len, json_t **ret, struct be_diag *diag);

#endif
