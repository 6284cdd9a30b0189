#ifndef CFINFLOWSYSTEM_H
#define CFINFLOWSYSTEM_H

#include <spawn.h>

/// Writes a file range's dirty pages to the device and waits until they are written (Linux `sync_file_range`, which
/// Swift's Glibc module does not export). It is not a sync: the device's cache is flushed only by a later
/// `fdatasync`. Returns 0, or -1 with `errno` set; elsewhere than Linux it does nothing and returns 0.
int finflow_write_back_range(int fd, long long offset, long long length);

/// Has a child started by `posix_spawn` with `actions` close every descriptor from `fd` up, so it inherits none of the
/// parent's files, sockets or pipes but those the actions set up (glibc's `posix_spawn_file_actions_addclosefrom_np`,
/// which Swift's Glibc module does not export). Returns 0, or -1 where the C library has no such action.
int finflow_spawn_close_from(posix_spawn_file_actions_t *actions, int fd);

#endif
