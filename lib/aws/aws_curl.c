/* libgda (private, lib/aws) — libcurl pieces shared by the AWS client and the
 * Lambda runtime (see aws_curl.h). */
#include "aws_curl.h"

#include <stdint.h>

size_t gda_aws_curl_body_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    gda_aws_curl_body *body = userdata;
    if (size && nmemb > SIZE_MAX / size)
        return 0;
    size_t n = size * nmemb;
    if (n > body->max - body->buf.len) {
        body->too_large = true;
        return 0; /* makes libcurl fail the transfer with CURLE_WRITE_ERROR */
    }
    if (!body->buf.data && !gda_buf_reserve(&body->buf, body->first_cap ? body->first_cap : 1024))
        return 0;
    return gda_buf_append(&body->buf, ptr, n) ? n : 0;
}

CURLcode gda_aws_curl_set_defaults(CURL *h, const char *protocols)
{
    CURLcode rc;
    if ((rc = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L)) != CURLE_OK ||
        (rc = curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L)) != CURLE_OK ||
        (rc = curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L)) != CURLE_OK ||
        (rc = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, protocols)) != CURLE_OK ||
        (rc = curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L)) != CURLE_OK)
        return rc;
    return CURLE_OK;
}
