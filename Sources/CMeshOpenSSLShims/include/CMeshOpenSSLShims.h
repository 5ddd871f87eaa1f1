/* CMeshOpenSSLShims: one-line wrappers for OpenSSL function-like macros and SSL_OP_BIT constants that
 * Swift's importer cannot see. Used by MeshTLS only, so nothing else sees OpenSSL. No logic lives here. */
#ifndef CMESHOPENSSLSHIMS_H
#define CMESHOPENSSLSHIMS_H
#include <stdint.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

static inline int CMeshOpenSSLShims_SSL_CTX_set_min_proto_version(SSL_CTX *c, int v) { return (int)SSL_CTX_set_min_proto_version(c, v); }
static inline int CMeshOpenSSLShims_SSL_CTX_set_max_proto_version(SSL_CTX *c, int v) { return (int)SSL_CTX_set_max_proto_version(c, v); }
static inline long CMeshOpenSSLShims_SSL_CTX_set_mode(SSL_CTX *c, long m) { return SSL_CTX_set_mode(c, m); }
static inline long CMeshOpenSSLShims_SSL_clear_mode(SSL *s, long m) { return SSL_clear_mode(s, m); }
static inline long CMeshOpenSSLShims_SSL_CTX_set_session_cache_mode(SSL_CTX *c, long m) { return SSL_CTX_set_session_cache_mode(c, m); }
static inline long CMeshOpenSSLShims_SSL_CTX_sess_set_cache_size(SSL_CTX *c, long n) { return SSL_CTX_sess_set_cache_size(c, n); }
static inline int CMeshOpenSSLShims_SSL_CTX_set1_groups_list(SSL_CTX *c, const char *l) { return (int)SSL_CTX_set1_groups_list(c, l); }
static inline void CMeshOpenSSLShims_SSL_CTX_set_read_ahead(SSL_CTX *c, int yes) { SSL_CTX_set_read_ahead(c, yes); }
static inline int CMeshOpenSSLShims_SSL_CTX_add1_chain_cert(SSL_CTX *c, X509 *x) { return (int)SSL_CTX_add1_chain_cert(c, x); }
static inline int CMeshOpenSSLShims_sk_GENERAL_NAME_num(const GENERAL_NAMES *s) { return sk_GENERAL_NAME_num(s); }
static inline GENERAL_NAME *CMeshOpenSSLShims_sk_GENERAL_NAME_value(const GENERAL_NAMES *s, int i) { return sk_GENERAL_NAME_value(s, i); }
static inline int CMeshOpenSSLShims_sk_X509_num(const STACK_OF(X509) *s) { return sk_X509_num(s); }
static inline X509 *CMeshOpenSSLShims_sk_X509_value(const STACK_OF(X509) *s, int i) { return sk_X509_value(s, i); }
static inline void CMeshOpenSSLShims_sk_X509_EXTENSION_pop_free(STACK_OF(X509_EXTENSION) *s, sk_X509_EXTENSION_freefunc f) { sk_X509_EXTENSION_pop_free(s, f); }
static inline void CMeshOpenSSLShims_OPENSSL_free(void *p) { OPENSSL_free(p); }
static inline long CMeshOpenSSLShims_BIO_get_mem_data(BIO *b, char **pp) { return BIO_get_mem_data(b, pp); }
static inline EVP_PKEY *CMeshOpenSSLShims_EVP_EC_gen(const char *curve) { return EVP_EC_gen(curve); }
static const uint64_t CMeshOpenSSLShims_SSL_OP_NO_TICKET = SSL_OP_NO_TICKET;
static const uint64_t CMeshOpenSSLShims_SSL_OP_NO_RENEGOTIATION = SSL_OP_NO_RENEGOTIATION;
static const uint64_t CMeshOpenSSLShims_SSL_OP_IGNORE_UNEXPECTED_EOF = SSL_OP_IGNORE_UNEXPECTED_EOF;
static const uint64_t CMeshOpenSSLShims_SSL_OP_NO_COMPRESSION = SSL_OP_NO_COMPRESSION;
static const uint64_t CMeshOpenSSLShims_SSL_OP_CIPHER_SERVER_PREFERENCE = SSL_OP_CIPHER_SERVER_PREFERENCE;
#endif
