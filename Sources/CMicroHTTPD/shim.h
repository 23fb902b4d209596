#ifndef WAREHOUSE_CMICROHTTPD_SHIM_H
#define WAREHOUSE_CMICROHTTPD_SHIM_H
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <microhttpd.h>

/// MHD_SIZE_UNKNOWN is a macro; Swift cannot import it.
static const uint64_t mw_mhd_size_unknown = MHD_SIZE_UNKNOWN;
/// MHD_CONTENT_READER_END_OF_STREAM is a macro cast; exported as a constant.
static const ssize_t mw_mhd_reader_end_of_stream = MHD_CONTENT_READER_END_OF_STREAM;
/// MHD_CONTENT_READER_END_WITH_ERROR is a macro cast; exported as a constant.
static const ssize_t mw_mhd_reader_end_with_error = MHD_CONTENT_READER_END_WITH_ERROR;

/// MHD_start_daemon is variadic, so Swift cannot call it: this fixes the option list we use.
/// `ipv4` is a dotted-quad address to bind to; port 0 asks the kernel for a free port.
static inline struct MHD_Daemon *mw_mhd_start_daemon(
    unsigned int flags, const char *ipv4, uint16_t port,
    MHD_AccessHandlerCallback handler, void *handler_cls,
    MHD_RequestCompletedCallback completed, void *completed_cls,
    size_t connection_memory_limit, unsigned int connection_timeout_s,
    unsigned int connection_limit)
{
    struct sockaddr_in address;
    memset(&address, 0, sizeof(address));
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    if (inet_pton(AF_INET, ipv4, &address.sin_addr) != 1) {
        return NULL;
    }
    return MHD_start_daemon(
        flags, port, NULL, NULL, handler, handler_cls,
        MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&address,
        MHD_OPTION_NOTIFY_COMPLETED, completed, completed_cls,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, connection_memory_limit,
        MHD_OPTION_CONNECTION_TIMEOUT, connection_timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, connection_limit,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1,
        MHD_OPTION_END);
}

/// MHD_get_daemon_info is variadic; this asks only for the bound port.
static inline uint16_t mw_mhd_bound_port(struct MHD_Daemon *daemon) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info == NULL ? 0 : info->port;
}

/// memmem is a GNU extension that Glibc's Swift module does not export; the multipart parser
/// needs it to find boundaries at memory speed.
extern void *memmem(const void *haystack, size_t haystack_length, const void *needle, size_t needle_length);
/* MHD_get_connection_info is variadic and answers a union: the connection's socket. */
static inline int mw_mhd_connection_fd(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    return info ? info->connect_fd : -1;
}

static inline const void *mw_memmem(const void *haystack, size_t haystack_length, const void *needle, size_t needle_length) {
    return memmem(haystack, haystack_length, needle, needle_length);
}

/// sync_file_range is Linux-only and needs _GNU_SOURCE. The spool writer uses it to start
/// writeback of what it has written so far, so the final fsync has little left to flush.
#include <fcntl.h>
extern int sync_file_range(int fd, off_t offset, off_t nbytes, unsigned int flags);
static inline int mw_start_writeback(int fd, off_t offset, off_t length) {
    return sync_file_range(fd, offset, length, 2 /* SYNC_FILE_RANGE_WRITE */);
}

#endif
