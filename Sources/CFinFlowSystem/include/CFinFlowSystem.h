#ifndef CFINFLOWSYSTEM_H
#define CFINFLOWSYSTEM_H

/// Writes a file range's dirty pages to the device and waits until they are written (Linux `sync_file_range`, which
/// Swift's Glibc module does not export). It is not a sync: the device's cache is flushed only by a later
/// `fdatasync`. Returns 0, or -1 with `errno` set; elsewhere than Linux it does nothing and returns 0.
int finflow_write_back_range(int fd, long long offset, long long length);

#endif
