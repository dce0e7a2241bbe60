/* libgda (private, lib/aws) — a client for AWS JSON-protocol services
 * (DynamoDB, Secrets Manager) over libcurl.
 *
 * Each call is one HTTP POST to the endpoint with X-Amz-Target
 * "<target_prefix>.<operation>", signed with SigV4 by libcurl
 * (CURLOPT_AWS_SIGV4 "aws:amz:<region>:<service>"). The session token, when
 * there is one, travels in X-Amz-Security-Token (and is signed with the other
 * headers). Credentials are handed to libcurl for the one transfer and
 * cleared from the handle right after it.
 *
 * Connections: every client keeps its CURL easy handles (one per concurrent
 * caller, so a single-threaded Lambda keeps exactly one) with keep-alive and
 * TCP_NODELAY, so the TLS connection of the first call is reused by the next.
 *
 * Retries: throttling errors, HTTP 5xx and connection failures are retried
 * with full-jitter exponential backoff (aws_retry.h), never past the call's
 * deadline; CURLOPT_TIMEOUT_MS of each attempt is what is left of it.
 *
 * Thread safety: a client may be shared by any number of threads; calls run
 * in parallel on separate handles. Free it once no call is running.
 */
#ifndef GDA_AWS_CLIENT_H
#define GDA_AWS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gda/status.h>

#include "aws_credentials.h"
#include "aws_retry.h"

typedef struct gda_aws_client gda_aws_client;

typedef struct gda_aws_client_options {
    const char *service;       /* SigV4 service name, e.g. "dynamodb" */
    const char *region;        /* e.g. "eu-west-1"; required */
    const char *endpoint;      /* full URL, e.g. "https://dynamodb.eu-west-1.amazonaws.com" */
    const char *target_prefix; /* e.g. "DynamoDB_20120810" */
    const char *content_type;  /* e.g. "application/x-amz-json-1.0" */
    gda_aws_retry_policy retry;
    gda_clock clock;            /* zeroed (or a NULL hook): the system's */
    int64_t default_timeout_ms; /* whole-call budget when a call has no deadline */
    int64_t connect_timeout_ms; /* cap of one connection attempt */
    size_t max_handles;         /* concurrent calls; more wait for a free handle */
    size_t max_response_bytes;  /* a longer response body fails the call */
} gda_aws_client_options;

/* gda_init, then curl_global_init once for this library: every libcurl user
 * in libgda (the AWS client, the Lambda runtime, the secrets sources) starts
 * here. GDA_ERR_INTERNAL when either cannot start. */
gda_status gda_aws_global_init(gda_error *err);

/* The defaults, by value: the retry policy's defaults, the system clock, a
 * 10 s call budget, 2 s connect cap, 64 handles, 4 MiB responses; the
 * strings NULL. */
gda_aws_client_options gda_aws_client_options_default(void);

/* The CA bundle HTTPS calls use: GDA_CA_BUNDLE when set, else the first
 * readable of SSL_CERT_FILE, Amazon Linux's /etc/pki/tls/certs/ca-bundle.crt
 * and Debian's /etc/ssl/certs/ca-certificates.crt; NULL leaves libcurl's
 * compiled-in default (a Lambda zip carries Debian's libcurl, whose default
 * path does not exist on Amazon Linux). */
const char *gda_aws_ca_bundle_path(void);

/* Create a client. The strings are copied. On success the client owns creds
 * (freed with the client); on failure the caller still does. Errors:
 * GDA_ERR_CONFIG (a missing or invalid option, or libcurl without SigV4),
 * GDA_ERR_NOMEM. */
gda_aws_client *gda_aws_client_new(const gda_aws_client_options *opts, gda_aws_credentials *creds,
                                   gda_error *err);

/* A client for a service fetched from once per container (Secrets Manager,
 * KMS): JSON 1.1 protocol, one handle, and few, short retries (4 attempts,
 * 50 ms base, 500 ms cap) so a cold start does not hang on a throttled
 * service. */
typedef struct gda_aws_service {
    const char *what;          /* for messages, e.g. "Secrets Manager" */
    const char *service;       /* SigV4 name and endpoint host prefix, e.g. "kms" */
    const char *target_prefix; /* e.g. "TrentService" */
    size_t max_response_bytes;
} gda_aws_service;

/* Such a client for region (required) at endpoint (NULL or "":
 * https://<service>.<region>.amazonaws.com) in *out. timeout_ms bounds a
 * call with no deadline (0: 3000). Takes over creds on success (the caller
 * keeps them on failure). Errors (*out NULL): GDA_ERR_CONFIG (no region, no
 * credentials, a negative timeout, or as gda_aws_client_new),
 * GDA_ERR_NOMEM, GDA_ERR_INTERNAL (out NULL). */
gda_status gda_aws_service_client_new(const gda_aws_service *svc, const char *region,
                                      const char *endpoint, gda_aws_credentials *creds,
                                      int64_t timeout_ms, gda_aws_client **out, gda_error *err);

/* Close every connection and free the client (and its credentials). NULL-safe. */
void gda_aws_client_free(gda_aws_client *client);

typedef struct gda_aws_response {
    long http_status;   /* of the last attempt; 0 when no response arrived */
    char *body;         /* heap, NUL-terminated (body_len excludes the NUL) */
    size_t body_len;
    char error_type[96]; /* AWS error type after '#' in "__type", "" if none */
    unsigned attempts;   /* HTTP round trips made by this call */
    /* An attempt before the last failed after the request may have reached
     * the server (e.g. the connection dropped while waiting for the answer),
     * so a non-idempotent write may already have been applied once. */
    bool ambiguous;
} gda_aws_response;

/* Free what a response owns and zero it. NULL-safe. */
void gda_aws_response_clear(gda_aws_response *resp);

/* POST body (JSON) as `operation`, retrying as described above, and wait no
 * later than deadline_ms (epoch ms on the client's clock; 0 = the default
 * budget). *resp is overwritten (clear it after use).
 * Returns GDA_OK when the service answered with a final response: a 2xx, or
 * a non-retryable error whose type is in resp->error_type (the caller maps
 * it). GDA_ERR_UNAVAILABLE when every attempt allowed by the policy and the
 * deadline failed retryably (resp describes the last); GDA_ERR_TIMEOUT when
 * the deadline passed during an attempt or before the first; GDA_ERR_NOMEM;
 * GDA_ERR_INTERNAL for a libcurl failure that is not the network's. */
gda_status gda_aws_json_call(gda_aws_client *client, const char *operation, const char *body,
                             size_t body_len, int64_t deadline_ms, gda_aws_response *resp,
                             gda_error *err);

typedef struct gda_aws_client_stats {
    uint64_t calls;       /* gda_aws_json_call invocations */
    uint64_t attempts;    /* HTTP round trips */
    uint64_t connections; /* TCP connections opened (CURLINFO_NUM_CONNECTS summed) */
    uint64_t retries;     /* backoff sleeps taken */
} gda_aws_client_stats;

/* A snapshot of the client's counters. */
void gda_aws_client_stats_get(gda_aws_client *client, gda_aws_client_stats *out);

#endif /* GDA_AWS_CLIENT_H */
