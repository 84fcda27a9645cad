// Loading a shard (see shard.h): the file mapped (else read) whole, its size and CRC32C checked
// against the manifest, tensors as views of its bytes. No HDF5 here: a load never parses a shard.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "ckpt/crc32c.h"
#include "ckpt/shard.h"
#include "ckpt/spare.h"
#include "core/durable_file.h"
#include "core/error.h"

namespace ofa::ckpt {

namespace {

// A 64-byte aligned buffer for a whole shard file.
ShardBytes alloc_shard_bytes(int64_t size, std::string label) {
  void* p = nullptr;
  OFA_CHECK_KIND(kIo, ::posix_memalign(&p, 64, static_cast<size_t>(std::max<int64_t>(size, 1))) == 0, label,
                 ": cannot allocate ", size, " bytes");
  return {std::shared_ptr<uint8_t>(static_cast<uint8_t*>(p), [](uint8_t* q) { std::free(q); }), size,
          std::move(label)};
}

void check_crc(const std::string& path, uint32_t crc, const std::string& want_crc) {
  OFA_CHECK_KIND(kData, crc_hex(crc) == want_crc, path, ": CRC32C ", crc_hex(crc), " != ", want_crc,
                 " in the manifest: the shard is corrupt");
}

// Mapped, not read: the tensors become views of the page cache's pages (private and writable, so
// an in-place change copies a page, never touches the file), which saves read()'s copy of every
// byte; the CRC pass then faults the pages in, sequentially. As torch.load(mmap=True) and
// safetensors do. The mapping lives as long as a tensor of it, and so do the descriptor and its
// shared lock: a save overwrites a pruned shard in place only when it gets an exclusive lock
// (write_shard); otherwise our writers never change a committed shard (pruning moves or unlinks
// it, and a step written again has its directory removed first), and an unlinked file stays
// mapped. Nothing when the file system cannot map (fd then stays open for the read).
std::optional<ShardBytes> map_shard(int fd, const struct stat& st, const std::string& path, int64_t want_bytes,
                                    const std::string& want_crc) {
  const size_t len = static_cast<size_t>(want_bytes);
  void* map = len > 0 ? ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0) : MAP_FAILED;
  if (map == MAP_FAILED) return std::nullopt;
  // Sequential readahead for the CRC pass. (MADV_WILLNEED as well made a cold 90 MiB shard on
  // this VM's disk slower: 120-135 ms against 50-62 ms with MADV_SEQUENTIAL alone.)
  ::madvise(map, len, MADV_SEQUENTIAL);
  const dev_t dev = st.st_dev;
  const ino_t ino = st.st_ino;
  note_mapped(dev, ino);
  ShardBytes mapped{std::shared_ptr<uint8_t>(static_cast<uint8_t*>(map),
                                             [len, fd, dev, ino](uint8_t* q) {
                                               ::munmap(q, len);
                                               note_unmapped(dev, ino);
                                               ::close(fd);
                                             }),
                    want_bytes, path};
  check_crc(path, crc32c(mapped.data.get(), len), want_crc);
  return mapped;
}

// Opens path read-only and fills st; kIo naming the path (a `what`) when either fails.
int open_for_read(const std::string& path, const char* what, struct stat& st) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  OFA_CHECK_KIND(kIo, fd >= 0, path, ": cannot open ", what, ": ", durable::errno_text(errno));
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    fail(ErrorKind::kIo, path, ": cannot stat");
  }
  return fd;
}

// The fallback: read into memory and checksum in slices, each while it is still in cache. Closes fd.
ShardBytes read_shard_copy(int fd, const std::string& path, int64_t want_bytes, const std::string& want_crc) {
  ShardBytes b = alloc_shard_bytes(want_bytes, path);
  constexpr int64_t kSlice = 4 << 20;
  uint32_t crc = 0;
  int64_t done = 0;
  while (done < want_bytes) {
    const ssize_t n = ::read(fd, b.data.get() + done, static_cast<size_t>(std::min(kSlice, want_bytes - done)));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    crc = crc32c(b.data.get() + done, static_cast<size_t>(n), crc);
    done += n;
  }
  ::close(fd);
  OFA_CHECK_KIND(kIo, done == want_bytes, path, ": short read (", done, " of ", want_bytes, " bytes)");
  check_crc(path, crc, want_crc);
  return b;
}

}  // namespace

ShardBytes read_shard_bytes(const std::string& path, int64_t want_bytes, const std::string& want_crc) {
  struct stat st {};
  const int fd = open_for_read(path, "shard", st);
  // Held until the bytes are released: a save may reuse a pruned checkpoint's shard file, but
  // not one that is locked (write_shard). Held exclusively means it is being rewritten right now.
  if (const int err = lock_shared(fd); err != 0) {
    ::close(fd);
    fail(ErrorKind::kIo, path, ": locked by a checkpoint write that reuses this pruned shard file (",
         durable::errno_text(err), ")");
  }
  if (static_cast<int64_t>(st.st_size) != want_bytes) {
    ::close(fd);
    fail(ErrorKind::kData, path, ": ", st.st_size, " bytes, the manifest says ", want_bytes,
         " (truncated or overwritten shard)");
  }
  if (auto mapped = map_shard(fd, st, path, want_bytes, want_crc)) return std::move(*mapped);
  return read_shard_copy(fd, path, want_bytes, want_crc);
}

torch::Tensor tensor_at(const ShardBytes& b, int64_t offset, torch::ScalarType dtype,
                        const std::vector<int64_t>& shape, const std::string& where) {
  const auto opts = torch::TensorOptions().dtype(dtype);
  // The shape comes from the manifest: a negative dim or a product past int64 is bad data, not
  // undefined behaviour (each factor is checked before it is multiplied in).
  int64_t numel = 1;
  bool overflow = false;
  for (auto d : shape) {
    OFA_CHECK_KIND(kData, d >= 0, where, ": negative dimension ", d, " in the shape");
    overflow = overflow || __builtin_mul_overflow(numel, d, &numel);
  }
  int64_t len = 0;
  overflow = overflow || __builtin_mul_overflow(numel, static_cast<int64_t>(c10::elementSize(dtype)), &len);
  OFA_CHECK_KIND(kData, !overflow && len <= b.size, where, ": a tensor of shape ", shape, " does not fit in ",
                 b.label, " (", b.size, " bytes)");
  if (numel == 0) return torch::empty(shape, opts);
  OFA_CHECK_KIND(kData, offset >= 0 && offset <= b.size - len, where, ": bytes [", offset, ", ", offset + len,
                 ") lie outside ", b.label, " (", b.size, " bytes)");
  uint8_t* p = b.data.get() + offset;
  if (offset % static_cast<int64_t>(c10::elementSize(dtype)) != 0) {  // not written by us; copy to align
    auto t = torch::empty(shape, opts);
    std::memcpy(t.data_ptr(), p, static_cast<size_t>(len));
    return t;
  }
  // A storage of exactly the tensor's bytes whose context keeps the shard buffer alive, and a
  // TensorImpl made directly (torch::from_blob's std::function deleter and dispatcher calls cost
  // more than the rest of a load's bookkeeping for ~1,700 tensors).
  auto* keep = new std::shared_ptr<uint8_t>(b.data);
  c10::DataPtr data(p, keep, [](void* ctx) { delete static_cast<std::shared_ptr<uint8_t>*>(ctx); }, c10::Device(c10::kCPU));
  c10::Storage storage(c10::Storage::use_byte_size_t(), len, std::move(data), /*allocator=*/nullptr, /*resizable=*/false);
  auto t = at::detail::make_tensor<c10::TensorImpl>(std::move(storage), c10::DispatchKeySet(c10::DispatchKey::CPU),
                                                    c10::scalarTypeToTypeMeta(dtype));
  t.unsafeGetTensorImpl()->set_sizes_contiguous(shape);
  return t;
}

std::string read_file(const std::string& path) {
  struct stat st {};
  const int fd = open_for_read(path, "file", st);
  std::string buf(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < buf.size()) {
    const ssize_t n = ::read(fd, buf.data() + done, buf.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  OFA_CHECK_KIND(kIo, done == buf.size(), path, ": short read (", done, " of ", buf.size(), " bytes)");
  return buf;
}

}  // namespace ofa::ckpt
