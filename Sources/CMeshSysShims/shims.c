#define _GNU_SOURCE
#include <fcntl.h>
#include <malloc.h>
#include <spawn.h>
#include <unistd.h>
#include "CMeshSysShims.h"

int CMeshSysShims_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) { return accept4(fd, addr, len, flags); }
int CMeshSysShims_malloc_trim(size_t pad) { return malloc_trim(pad); }
size_t CMeshSysShims_mallinfo2_uordblks(void) { return mallinfo2().uordblks; }
int CMeshSysShims_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }
ssize_t CMeshSysShims_splice(int fd_in, int fd_out, size_t len, unsigned int flags) { return splice(fd_in, NULL, fd_out, NULL, len, flags); }
const unsigned int CMeshSysShims_SPLICE_F_MOVE = SPLICE_F_MOVE;
const unsigned int CMeshSysShims_SPLICE_F_NONBLOCK = SPLICE_F_NONBLOCK;

#define CMESH_SO_ORIGINAL_DST 80 /* linux/netfilter_ipv4.h and IP6T_SO_ORIGINAL_DST in netfilter_ipv6/ip6_tables.h */
int CMeshSysShims_original_dst(int fd, int ipv6, struct sockaddr_storage *out, socklen_t *len) {
    return getsockopt(fd, ipv6 ? SOL_IPV6 : SOL_IP, CMESH_SO_ORIGINAL_DST, out, len);
}

int CMeshSysShims_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path) {
    return posix_spawn_file_actions_addchdir_np(actions, path);
}
int CMeshSysShims_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int low) {
    return posix_spawn_file_actions_addclosefrom_np(actions, low);
}
