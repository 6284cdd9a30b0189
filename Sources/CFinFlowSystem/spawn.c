#define _GNU_SOURCE
#include <spawn.h>
#include "CFinFlowSystem.h"

int finflow_spawn_close_from(posix_spawn_file_actions_t *actions, int fd) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    return posix_spawn_file_actions_addclosefrom_np(actions, fd);
#else
    (void)actions;
    (void)fd;
    return -1;
#endif
}
