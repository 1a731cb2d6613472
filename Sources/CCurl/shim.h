#ifndef VIGIL_CCURL_SHIM_H
#define VIGIL_CCURL_SHIM_H
#include <curl/curl.h>
/* curl_easy_setopt is variadic; Swift cannot call variadic C functions, so typed wrappers. */
static inline CURLcode vigil_curl_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode vigil_curl_setopt_ptr(CURL *h, CURLoption o, const void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode vigil_curl_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode vigil_curl_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
#endif
