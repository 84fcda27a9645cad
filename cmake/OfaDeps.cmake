# Third-party packages (all from Debian, installed by launch/setup.sh) and the generated
# build_config.h that records which optional parts this build has.
find_package(Torch REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(simdjson REQUIRED)   # checkpoint manifests: the tensor index is parsed with it
find_package(ZLIB REQUIRED)
find_package(Threads REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS CXX)  # the data loader keeps its workers' LibTorch ops serial

set(OFA_HAVE_MPI 0)
if(OFA_WITH_MPI)
  find_package(MPI REQUIRED COMPONENTS C)
  set(OFA_HAVE_MPI 1)
endif()

set(HDF5_PREFER_PARALLEL ON)
find_package(HDF5 REQUIRED COMPONENTS C)
set(OFA_HDF5_PARALLEL 0)
if(HDF5_IS_PARALLEL)
  set(OFA_HDF5_PARALLEL 1)
endif()
add_library(ofa_hdf5 INTERFACE)
target_include_directories(ofa_hdf5 SYSTEM INTERFACE ${HDF5_C_INCLUDE_DIRS} ${HDF5_INCLUDE_DIRS})
target_link_libraries(ofa_hdf5 INTERFACE ${HDF5_C_LIBRARIES} ${HDF5_LIBRARIES})
if(HDF5_IS_PARALLEL)
  if(NOT TARGET MPI::MPI_C)
    find_package(MPI REQUIRED COMPONENTS C)
  endif()
  target_link_libraries(ofa_hdf5 INTERFACE MPI::MPI_C)   # hdf5::hdf5 lacks MPI's include dirs
endif()

find_library(OFA_JEMALLOC NAMES jemalloc)
set(OFA_HAVE_JEMALLOC 0)
if(OFA_JEMALLOC AND NOT OFA_SANITIZE)
  set(OFA_HAVE_JEMALLOC 1)
endif()

# ISA-L's CRC32C (checkpoint shard checksums; SIMD on x86, aarch64, ppc64le). Without it a
# portable table-driven CRC32C is used (same values, slower).
find_path(OFA_ISAL_INCLUDE isa-l/crc.h)
find_library(OFA_ISAL_LIB NAMES isal)
set(OFA_HAVE_ISAL 0)
if(OFA_ISAL_INCLUDE AND OFA_ISAL_LIB)
  set(OFA_HAVE_ISAL 1)
endif()

set(OFA_HAVE_NCCL 0)
set(OFA_HAVE_CUDA_TORCH 0)
if(TORCH_CUDA_LIBRARIES OR CUDA_FOUND)
  set(OFA_HAVE_CUDA_TORCH 1)
endif()
if(OFA_WITH_NCCL)
  if(NOT OFA_WITH_MPI)
    message(FATAL_ERROR "OFA_WITH_NCCL needs OFA_WITH_MPI: the NCCL unique id is broadcast over MPI")
  endif()
  set(_nccl_hints $ENV{NCCL_HOME} /usr/local/cuda)
  find_path(OFA_NCCL_INCLUDE nccl.h HINTS ${_nccl_hints} PATH_SUFFIXES include REQUIRED)
  find_library(OFA_NCCL_LIB nccl HINTS ${_nccl_hints} PATH_SUFFIXES lib lib64 targets/x86_64-linux/lib REQUIRED)
  find_path(OFA_CUDART_INCLUDE cuda_runtime_api.h HINTS /usr/local/cuda $ENV{CUDA_HOME} PATH_SUFFIXES include REQUIRED)
  find_library(OFA_CUDART_LIB cudart HINTS /usr/local/cuda $ENV{CUDA_HOME} PATH_SUFFIXES lib64 lib targets/x86_64-linux/lib REQUIRED)
  set(OFA_HAVE_NCCL 1)
  message(STATUS "NCCL: ${OFA_NCCL_LIB} (cudart ${OFA_CUDART_LIB})")
endif()

configure_file(${CMAKE_SOURCE_DIR}/cmake/build_config.h.in ${CMAKE_BINARY_DIR}/include/ofa/build_config.h @ONLY)
