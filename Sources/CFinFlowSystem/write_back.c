#define _GNU_SOURCE
#include <fcntl.h>
#include "CFinFlowSystem.h"

int finflow_write_back_range(int fd, long long offset, long long length) {
#if defined(__linux__)
    return sync_file_range(fd, offset, length,
                           SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
#else
    (void)fd;
    (void)offset;
    (void)length;
    return 0;
#endif
}
