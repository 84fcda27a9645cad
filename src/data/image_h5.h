// HDF5 helpers shared by the image-pack writer and reader, for .cpp files of ofa_data only
// (includes <hdf5.h>): scalar attributes, 1-D numeric and string datasets written without
// timestamps (so equal content gives equal files), and their validated readers, whose errors are
// kData naming the file and key.
#pragma once
#include <hdf5.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/h5_util.h"

namespace ofa::data::img_h5 {

/// A dataset-creation list with timestamps off (obj_track_times): content-equal files are equal.
h5::Id quiet_dcpl();

void write_str_attr(hid_t obj, const char* name, const std::string& value, const std::string& what);
void write_u64_attr(hid_t obj, const char* name, uint64_t value, const std::string& what);
void write_i64_attr(hid_t obj, const char* name, int64_t value, const std::string& what);
/// Missing or of the wrong class: kData "what: attribute 'name' ...".
std::string read_str_attr(hid_t obj, const char* name, const std::string& what);
uint64_t read_u64_attr(hid_t obj, const char* name, const std::string& what);
int64_t read_i64_attr(hid_t obj, const char* name, const std::string& what);

/// 1-D datasets. file_type: the stored type (H5T_STD_I64LE, ...); mem_type: the native one.
void write_vec(hid_t loc, const char* name, const void* data, size_t n, hid_t file_type,
               hid_t mem_type, const std::string& what);
template <class T>
void write_vec(hid_t loc, const char* name, const std::vector<T>& v, hid_t file_type,
               hid_t mem_type, const std::string& what) {
  write_vec(loc, name, v.data(), v.size(), file_type, mem_type, what);
}
void write_strings(hid_t loc, const char* name, const std::vector<std::string>& v,
                   const std::string& what);

/// Reads the 1-D integer dataset `name` (kData when missing, not integer or not 1-D); with
/// expect >= 0 its length must equal expect.
void read_ints(hid_t loc, const char* name, hid_t mem_type, size_t elem, std::vector<uint8_t>& raw,
               int64_t expect, const std::string& what);
template <class T>
std::vector<T> read_vec(hid_t loc, const char* name, hid_t mem_type, int64_t expect,
                        const std::string& what) {
  std::vector<uint8_t> raw;
  read_ints(loc, name, mem_type, sizeof(T), raw, expect, what);
  std::vector<T> v(raw.size() / sizeof(T));
  if (!v.empty()) std::memcpy(v.data(), raw.data(), raw.size());
  return v;
}
/// Strings of a 1-D string dataset, rows [first, first + count) (count < 0: all).
std::vector<std::string> read_strings(hid_t loc, const char* name, const std::string& what,
                                      int64_t first = 0, int64_t count = -1);

/// Opens dataset `name` under `loc`; kData "what: missing dataset 'name'" when absent.
h5::Id open_dataset(hid_t loc, const char* name, const std::string& what);
/// Opens group `name` under `loc`; kData when absent.
h5::Id open_group(hid_t loc, const char* name, const std::string& what);

}  // namespace ofa::data::img_h5
