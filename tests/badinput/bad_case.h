/* The bad-input corpus (tests/data/bad/NAME.json): loading the cases and the
 * checks every front door shares.
 *
 * One file per case. A case is a JSON object:
 *
 *   "description"  what the case is about (required)
 *   "headers"      [[name, value], ...] in order; names and values are sent as
 *                  written, so duplicates, mixed case and CR/LF (written as
 *                  \r \n) are all expressible (required, may be [])
 *   body, exactly one of:
 *     "body"         UTF-8 text
 *     "body_latin1"  text whose code points U+0000..U+00FF are the bytes, for
 *                    bodies that are not UTF-8 ("\u00ff" is the byte 0xff)
 *     "generate"     {"prefix":s, "repeat":s, "count":n, "close":s,
 *                     "suffix":s}: prefix + repeat*n + close*n + suffix, for
 *                    bodies too big to commit (10 MB, 100000 brackets)
 *   "requestId"    the idempotency key the case's body carries, if any: the
 *                  runners check the store holds no record for it afterwards
 *   "prior"        {"body": s, "status": n, "background": bool, "headers": [..]}:
 *                  a request sent first, with the case's headers unless it
 *                  has its own (mismatch, in-progress, another caller);
 *                  background: still running (testMode slow) when the case is
 *                  sent. Its record and its single execution are expected.
 *   "expect"       {"status": n, "code": s, "field": s, "executes": bool}:
 *                  the response every door gives unless it overrides it.
 *                  code "" or absent: the body is not checked (a server-level
 *                  refusal that is not the app's JSON). executes: a positive
 *                  control that must run exactly once and leave one record.
 *   "doors"        per front door ("app", "http", "lambda_rest",
 *                  "lambda_direct") an object that may hold:
 *                    "skip": reason (the door cannot carry this input)
 *                    "headers": replaces the case's headers at this door
 *                    "raw": true (http: sent as raw bytes over a socket,
 *                           because a conforming client refuses the input)
 *                    "alt_status": another acceptable status (http raw: 0 =
 *                           the server closed the connection unanswered)
 *                    "isBase64Encoded": true/false (lambda_rest; default:
 *                           base64 only when the body is not UTF-8 text a
 *                           JSON string can carry)
 *                    "event_body": text put into the event's "body" as is
 *                           (lambda_rest; e.g. text that is not base64)
 *                    "expect": replaces the case's expectation; for the
 *                           lambda doors "delivery": "error" means the
 *                           answer is invocation/{id}/error whose errorType
 *                           must be "error_type" and whose errorMessage
 *                           is the JSON error object
 *
 * Placeholders in header values and body text: {{token}} (the right
 * credential), {{other}} (another caller's valid credential), {{wrong}} (a
 * well-formed wrong one), {{rid}} (the case's
 * requestId), {{iid}} (a valid interactionId).
 *
 * Thread safety: load once on the main thread; the cases are then read only.
 */
#ifndef GDA_TEST_BAD_CASE_H
#define GDA_TEST_BAD_CASE_H

#include <stdbool.h>
#include <stddef.h>

enum { BAD_DOOR_APP, BAD_DOOR_HTTP, BAD_DOOR_REST, BAD_DOOR_DIRECT, BAD_DOOR_COUNT };

/* The credential every runner configures (one 32-byte secret, "it:" id). */
#define BAD_SECRET_B64 "YmFkLWlucHV0LWNvcnB1cy1zZWNyZXQtMzItYnl0ZXM="
#define BAD_WRONG_B64 "d3JvbmctY3JlZGVudGlhbC1mb3ItYmFkLWlucHV0cyE="
/* A second caller with its own valid credential ("them"). */
#define BAD_OTHER_B64 "YW5vdGhlci1jYWxsZXItb2YtdGhlLWJhZC1jb3JwdXM="
#define BAD_KEYRING "it:" BAD_SECRET_B64 ",them:" BAD_OTHER_B64
#define BAD_AUTH_HEADER "X-Genesys-Signature"
#define BAD_INTERACTION "3f1c2e8a-9b4d-4c6e-8a1f-2b3c4d5e6f70"
#define BAD_ROUTE "/genesys/dataaction"

typedef struct bad_header {
    char *name;
    size_t name_len;
    char *value;
    size_t value_len;
} bad_header;

typedef struct bad_expect {
    int status;         /* HTTP status (0: connection closed, http raw only) */
    int alt_status;     /* -1: none */
    char code[64];      /* error.code; "" = body not checked */
    char field[64];     /* error.field; "" = not checked */
    bool executes;      /* positive control */
    bool delivery_error; /* lambda: invocation/{id}/error expected */
    char error_type[64]; /* lambda error delivery: the errorType */
} bad_expect;

typedef struct bad_door {
    bool skip;
    char skip_reason[256];
    bad_header *headers; /* NULL: the case's */
    size_t n_headers;
    bool raw;
    int base64;          /* -1 auto, 0, 1 */
    char *event_body;    /* NULL: the body */
    bool has_expect;
    bad_expect expect;
} bad_door;

typedef struct bad_case {
    char name[128];     /* file name without .json */
    char *description;
    bad_header *headers;
    size_t n_headers;
    char *body;         /* NUL-terminated too, for convenience */
    size_t body_len;
    char *request_id;   /* NULL when the body carries none */
    bool has_prior;
    bad_header *prior_headers; /* NULL: the case's */
    size_t n_prior_headers;
    char *prior_body;
    size_t prior_len;
    int prior_status;
    bool prior_background;
    bad_expect expect;
    bad_door doors[BAD_DOOR_COUNT];
} bad_case;

/* Load every tests/data/bad/NAME.json (GDA_TEST_DATA) sorted by name. On error
 * returns false with why filled (a malformed case is a test failure). */
bool bad_cases_load(bad_case **out, size_t *n, char *why, size_t why_size);
void bad_cases_free(bad_case *cases, size_t n);

/* The headers and expectation that apply at door. */
const bad_header *bad_case_headers(const bad_case *c, int door, size_t *n);
const bad_expect *bad_case_expect(const bad_case *c, int door);

/* Check an answer (status, response body) against e; on mismatch returns
 * false with why filled. body may be NULL when status is 0. */
bool bad_check_answer(const bad_expect *e, int status, const char *body, size_t len, char *why,
                      size_t why_size);

/* How many lines of the ledger file equal key (a missing file counts 0),
 * and how many lines it has. */
int bad_ledger_count(const char *path, const char *key);
int bad_ledger_lines(const char *path);

/* The Lambda errorType a status/code is reported under (the documented
 * classes of the direct-invocation contract). */
const char *bad_error_type_for(int status, const char *code);

/* Short name of a door, for messages. */
const char *bad_door_name(int door);

/* Rows in the SQLite idempotency database at db_path: all of them (key NULL)
 * or those for key. -1 when the database cannot be read. */
int bad_store_rows(const char *db_path, const char *key);

/* What a front door answered. */
typedef struct bad_answer {
    int status;          /* HTTP status; 0 = connection closed unanswered */
    char *body;          /* heap (free), may be NULL */
    size_t len;
    bool delivery_error; /* lambda: invocation/{id}/error */
    char error_type[128];
} bad_answer;

/* One front door, as the shared driver sees it. */
typedef struct bad_door_ops {
    int door;
    void *user;
    /* Send body with headers through the door; fill *out. false: the door
     * itself failed (a transport error the case does not expect), why set. */
    bool (*send)(void *user, const bad_case *c, const bad_header *h, size_t n_headers,
                 const char *body, size_t len, bad_answer *out, char *why, size_t why_size);
    /* Still alive (no crash)? why set when not. */
    bool (*alive)(void *user, char *why, size_t why_size);
    const char *ledger_path; /* one line per handler execution */
    const char *db_path;     /* the SQLite store */
} bad_door_ops;

/* Run every case through the door: the prior (if any), the case, then the
 * checks (answer, no crash, ledger, store). Prints one line per case and
 * returns the number of failed cases. */
size_t bad_run_door(const bad_door_ops *ops, const bad_case *cases, size_t n);

#endif
