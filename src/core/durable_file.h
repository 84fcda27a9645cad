// Files that survive a crash: written and fsynced, replaced atomically (temp name in the same
// directory, fsync, rename, fsync the directory), directories fsynced after an entry changed.
// The one place that does this by hand; the checkpoint manifest and the carbon report use it.
// Every failure is an ofa::Error of kind kIo naming the path and the system's message.
#pragma once
#include <string>
#include <string_view>

namespace ofa::durable {

/// strerror(err), plus " (disk full or quota exceeded)" for ENOSPC and EDQUOT.
std::string errno_text(int err);

/// Writes `bytes` to `path` (created or truncated) and fsyncs it. Not atomic: a crash may leave a
/// partial file (write_atomic is). kIo naming the path on any failure.
void write_file(const std::string& path, std::string_view bytes);

/// Replaces `path` by a file holding `bytes`, so that after a crash it is either the old file or
/// the new one, whole: writes `path`.tmp, fsyncs it, renames it over `path`, fsyncs the directory.
/// kIo naming the file on any failure; the temp file is removed then, and `path` is untouched.
void write_atomic(const std::string& path, std::string_view bytes);

/// For a file another library wrote at `tmp` (closed): fsyncs it, renames it over `path`, fsyncs
/// the directory. kIo naming the file on failure; `tmp` is removed then and `path` is untouched.
void commit_file(const std::string& tmp, const std::string& path);

/// fsync of a directory: makes the entries created, renamed or removed in it durable. kIo naming
/// the directory on failure (a file system that refuses fsync on directories is accepted: its
/// metadata is synchronous).
void fsync_dir(const std::string& dir);

}  // namespace ofa::durable
