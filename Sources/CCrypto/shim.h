#ifndef WAREHOUSE_CCRYPTO_SHIM_H
#define WAREHOUSE_CCRYPTO_SHIM_H
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/err.h>
#include <openssl/crypto.h>

/// EVP_MAX_MD_SIZE is a macro; exported so Swift can size digest buffers.
static const int mw_evp_max_md_size = EVP_MAX_MD_SIZE;

#endif
