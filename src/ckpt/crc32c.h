// CRC32C (Castagnoli, the iSCSI polynomial) of byte ranges: the checksum of every checkpoint
// shard in its manifest. ISA-L's SIMD routine when the build has it, a table otherwise; both give
// the standard value (crc32c("123456789") == 0xE3069283), so Python's crc32c package agrees.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace ofa::ckpt {

/// CRC32C of [data, data + n), continuing from `crc` (0 to start).
uint32_t crc32c(const void* data, size_t n, uint32_t crc = 0);

/// "e3069283": how manifests write it.
std::string crc_hex(uint32_t crc);

}  // namespace ofa::ckpt
