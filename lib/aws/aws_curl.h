/* libgda (private, lib/aws) — libcurl pieces shared by the AWS client and the
 * Lambda Runtime API loop: a bounded, growing response body and the handle
 * options both set on every connection.
 *
 * Thread safety: none of its own; a gda_aws_curl_body belongs to the one
 * transfer writing into it.
 */
#ifndef GDA_AWS_CURL_H
#define GDA_AWS_CURL_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include "buf.h"

/* A response body collected by gda_aws_curl_body_write. Set max (and, when
 * the default 1 KiB is a poor first guess, first_cap) before the transfer;
 * buf.data is NUL-terminated once anything was written, and buf is the
 * caller's to gda_buf_free(). */
typedef struct gda_aws_curl_body {
    gda_buf buf;      /* buf.failed: growing failed, the transfer was failed */
    size_t max;       /* the most body bytes accepted */
    size_t first_cap; /* first allocation; 0 means 1 KiB */
    bool too_large;   /* the body passed max: the transfer was failed */
} gda_aws_curl_body;

/* CURLOPT_WRITEFUNCTION for a gda_aws_curl_body (CURLOPT_WRITEDATA). Returns
 * the bytes taken, or 0 — which makes libcurl fail the transfer with
 * CURLE_WRITE_ERROR — once the body would pass max (too_large) or memory ran
 * out (buf.failed). */
size_t gda_aws_curl_body_write(char *ptr, size_t size, size_t nmemb, void *userdata);

/* Sets what every handle of ours wants: no signals (threads, Lambda), no
 * Nagle delay, TCP keep-alive, only the given protocols ("http" or
 * "http,https") and no redirects. Returns the first CURLcode that is not
 * CURLE_OK, or CURLE_OK. */
CURLcode gda_aws_curl_set_defaults(CURL *h, const char *protocols);

#endif
