/* CMeshShims: one-line wrappers for what Swift's importer cannot see (glibc _GNU_SOURCE functions,
 * OpenSSL function-like macros and SSL_OP_BIT constants). No logic lives here. */
#ifndef CMESHSHIMS_H
#define CMESHSHIMS_H
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* glibc */
int CMeshShims_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
int CMeshShims_malloc_trim(size_t pad);
size_t CMeshShims_mallinfo2_uordblks(void);
int CMeshShims_pipe2(int fds[2], int flags);
ssize_t CMeshShims_splice(int fd_in, int fd_out, size_t len, unsigned int flags);
extern const unsigned int CMeshShims_SPLICE_F_MOVE;
extern const unsigned int CMeshShims_SPLICE_F_NONBLOCK;

/* OpenSSL macros */
static inline int CMeshShims_SSL_CTX_set_min_proto_version(SSL_CTX *c, int v) { return (int)SSL_CTX_set_min_proto_version(c, v); }
static inline int CMeshShims_SSL_CTX_set_max_proto_version(SSL_CTX *c, int v) { return (int)SSL_CTX_set_max_proto_version(c, v); }
static inline long CMeshShims_SSL_CTX_set_mode(SSL_CTX *c, long m) { return SSL_CTX_set_mode(c, m); }
static inline long CMeshShims_SSL_CTX_set_session_cache_mode(SSL_CTX *c, long m) { return SSL_CTX_set_session_cache_mode(c, m); }
static inline long CMeshShims_SSL_CTX_sess_set_cache_size(SSL_CTX *c, long n) { return SSL_CTX_sess_set_cache_size(c, n); }
static inline int CMeshShims_SSL_CTX_set1_groups_list(SSL_CTX *c, const char *l) { return (int)SSL_CTX_set1_groups_list(c, l); }
static inline void CMeshShims_SSL_CTX_set_read_ahead(SSL_CTX *c, int yes) { SSL_CTX_set_read_ahead(c, yes); }
static inline int CMeshShims_SSL_CTX_add1_chain_cert(SSL_CTX *c, X509 *x) { return (int)SSL_CTX_add1_chain_cert(c, x); }
static inline int CMeshShims_sk_GENERAL_NAME_num(const GENERAL_NAMES *s) { return sk_GENERAL_NAME_num(s); }
static inline GENERAL_NAME *CMeshShims_sk_GENERAL_NAME_value(const GENERAL_NAMES *s, int i) { return sk_GENERAL_NAME_value(s, i); }
static inline int CMeshShims_sk_X509_num(const STACK_OF(X509) *s) { return sk_X509_num(s); }
static inline X509 *CMeshShims_sk_X509_value(const STACK_OF(X509) *s, int i) { return sk_X509_value(s, i); }
static inline void CMeshShims_sk_X509_EXTENSION_pop_free(STACK_OF(X509_EXTENSION) *s, sk_X509_EXTENSION_freefunc f) { sk_X509_EXTENSION_pop_free(s, f); }
static inline void CMeshShims_OPENSSL_free(void *p) { OPENSSL_free(p); }
static inline long CMeshShims_BIO_get_mem_data(BIO *b, char **pp) { return BIO_get_mem_data(b, pp); }
static inline EVP_PKEY *CMeshShims_EVP_EC_gen(const char *curve) { return EVP_EC_gen(curve); }
static const uint64_t CMeshShims_SSL_OP_NO_TICKET = SSL_OP_NO_TICKET;
static const uint64_t CMeshShims_SSL_OP_NO_RENEGOTIATION = SSL_OP_NO_RENEGOTIATION;
static const uint64_t CMeshShims_SSL_OP_IGNORE_UNEXPECTED_EOF = SSL_OP_IGNORE_UNEXPECTED_EOF;
static const uint64_t CMeshShims_SSL_OP_NO_COMPRESSION = SSL_OP_NO_COMPRESSION;
static const uint64_t CMeshShims_SSL_OP_CIPHER_SERVER_PREFERENCE = SSL_OP_CIPHER_SERVER_PREFERENCE;
#endif
