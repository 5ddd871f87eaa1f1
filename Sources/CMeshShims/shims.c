#define _GNU_SOURCE
#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>
#include "CMeshShims.h"

int CMeshShims_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) { return accept4(fd, addr, len, flags); }
int CMeshShims_malloc_trim(size_t pad) { return malloc_trim(pad); }
size_t CMeshShims_mallinfo2_uordblks(void) { return mallinfo2().uordblks; }
int CMeshShims_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }
ssize_t CMeshShims_splice(int fd_in, int fd_out, size_t len, unsigned int flags) { return splice(fd_in, NULL, fd_out, NULL, len, flags); }
const unsigned int CMeshShims_SPLICE_F_MOVE = SPLICE_F_MOVE;
const unsigned int CMeshShims_SPLICE_F_NONBLOCK = SPLICE_F_NONBLOCK;
