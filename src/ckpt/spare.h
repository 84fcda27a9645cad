// Spare shard files (checkpoint.recycle; docs/checkpoint-format.md, "Pruning and spare files"):
// pruning moves a checkpoint's shards to <root>/.recycle/ and each rank's next save overwrites its
// spare in place instead of creating a file. Never under a reader: a process holds a shared
// flock() on every shard it maps, and a save takes a spare only if it gets an exclusive one at
// once. On NFS flock() is emulated with POSIX locks, which belong to the process and never
// conflict with its own, so this process also checks its own mappings, noted here by (device,
// inode). For the .cpp files of ckpt (write_shard and read_shard_bytes).
#pragma once
#include <sys/types.h>

#include <string>

namespace ofa::ckpt {

/// The spare file, moved to `path` and opened for writing under an exclusive lock, or -1 when there
/// is none or it cannot be locked at once (a reader has it mapped, or no flock here); an unusable
/// spare is removed. A reader that opened the file before the move and locks it after this write
/// sees other bytes than its manifest's CRC and fails cleanly.
int take_spare(const std::string& spare, const std::string& path);

/// Takes the shared lock a reader holds on a shard (open in `fd`) while it maps it: 0 when held or
/// when the file system has no flock, else the errno (a save is rewriting that file right now).
int lock_shared(int fd);

/// This process maps the file (dev, ino) / has unmapped it (each mapping is counted).
void note_mapped(dev_t dev, ino_t ino);
void note_unmapped(dev_t dev, ino_t ino);

}  // namespace ofa::ckpt
