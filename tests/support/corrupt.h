// Damaging files on purpose, for the tests of what a reader does with a corrupt one.
#pragma once
#include <cstdint>
#include <fstream>
#include <string>

namespace ofa::testing {

/// Flips one bit (0x40) of the byte at `offset` of the file at `path`, in place.
inline void flip_byte(const std::string& path, int64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(offset);
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x40);
  f.seekp(offset);
  f.write(&c, 1);
}

}  // namespace ofa::testing
