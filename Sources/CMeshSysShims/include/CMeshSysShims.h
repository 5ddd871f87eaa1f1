/* CMeshSysShims: Linux headers Swift's Glibc module leaves out (epoll, eventfd) and one-line wrappers for
 * glibc _GNU_SOURCE functions the importer cannot see. No OpenSSL here: MeshNet depends on this alone.
 * No logic lives here. */
#ifndef CMESHSYSSHIMS_H
#define CMESHSYSSHIMS_H
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spawn.h>

int CMeshSysShims_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
int CMeshSysShims_malloc_trim(size_t pad);
size_t CMeshSysShims_mallinfo2_uordblks(void);
int CMeshSysShims_pipe2(int fds[2], int flags);
ssize_t CMeshSysShims_splice(int fd_in, int fd_out, size_t len, unsigned int flags);
extern const unsigned int CMeshSysShims_SPLICE_F_MOVE;
extern const unsigned int CMeshSysShims_SPLICE_F_NONBLOCK;
/* The destination a connection had before an iptables REDIRECT (SO_ORIGINAL_DST, or IP6T_SO_ORIGINAL_DST
 * for an IPv6 socket). Returns 0 or -1 with errno (ENOENT: not redirected). */
int CMeshSysShims_original_dst(int fd, int ipv6, struct sockaddr_storage *out, socklen_t *len);
/* posix_spawn file actions glibc declares only under _GNU_SOURCE (the tests' process spawner): change folder, and
 * close every descriptor from `low` up in the child. */
int CMeshSysShims_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path);
int CMeshSysShims_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int low);
#endif
