#ifndef WAREHOUSE_CCURL_SHIM_H
#define WAREHOUSE_CCURL_SHIM_H
#include <curl/curl.h>

/// curl_easy_setopt is variadic, so Swift cannot call it: one fixed-arity wrapper per argument type.
static inline CURLcode mw_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}
/// For string and object-pointer options (CURLOPT_URL, CURLOPT_WRITEDATA, CURLOPT_ERRORBUFFER…).
static inline CURLcode mw_curl_setopt_pointer(CURL *handle, CURLoption option, const void *value) {
    return curl_easy_setopt(handle, option, value);
}
/// For curl_off_t options (CURLOPT_INFILESIZE_LARGE).
static inline CURLcode mw_curl_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}
/// For CURLOPT_HTTPHEADER.
static inline CURLcode mw_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}
/// For CURLOPT_WRITEFUNCTION and CURLOPT_HEADERFUNCTION.
static inline CURLcode mw_curl_setopt_write_function(CURL *handle, CURLoption option, curl_write_callback value) {
    return curl_easy_setopt(handle, option, value);
}
/// For CURLOPT_READFUNCTION.
static inline CURLcode mw_curl_setopt_read_function(CURL *handle, curl_read_callback value) {
    return curl_easy_setopt(handle, CURLOPT_READFUNCTION, value);
}
/// For CURLOPT_SEEKFUNCTION: curl rewinds a body it must send again (a retried request on a
/// reused connection that died) through it.
static inline CURLcode mw_curl_setopt_seek_function(CURL *handle, curl_seek_callback value) {
    return curl_easy_setopt(handle, CURLOPT_SEEKFUNCTION, value);
}
/// CURL_SEEKFUNC_* are macros; exported as constants.
static const int mw_curl_seekfunc_ok = CURL_SEEKFUNC_OK;
static const int mw_curl_seekfunc_cantseek = CURL_SEEKFUNC_CANTSEEK;
/// curl_easy_getinfo is variadic too; we only read long values (the response code).
static inline CURLcode mw_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}
/// CURL_READFUNC_ABORT is a macro; exported as a constant.
static const size_t mw_curl_readfunc_abort = CURL_READFUNC_ABORT;
/// CURL_ERROR_SIZE is a macro; exported as a constant.
static const int mw_curl_error_size = CURL_ERROR_SIZE;

#endif
