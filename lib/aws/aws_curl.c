/* libgda (private, lib/aws) — libcurl pieces shared by the AWS client and the
 * Lambda runtime (see aws_curl.h). */
#include "aws_curl.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

size_t gda_aws_curl_body_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    gda_aws_curl_body *buf = userdata;
    if (size && nmemb > SIZE_MAX / size)
        return 0;
    size_t n = size * nmemb;
    if (n > buf->max - buf->len) {
        buf->too_large = true;
        return 0; /* makes libcurl fail the transfer with CURLE_WRITE_ERROR */
    }
    if (buf->len + n + 1 > buf->cap) {
        size_t cap = buf->cap ? buf->cap : buf->first_cap ? buf->first_cap : 1024;
        while (cap < buf->len + n + 1)
            cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
        char *grown = realloc(buf->data, cap);
        if (!grown) {
            buf->nomem = true;
            return 0;
        }
        buf->data = grown;
        buf->cap = cap;
    }
    memcpy(buf->data + buf->len, ptr, n);
    buf->len += n;
    buf->data[buf->len] = '\0';
    return n;
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
