# Compiler launcher, fast linker, warnings and the one torch precompiled header every module reuses.
find_program(OFA_CCACHE ccache)
if(OFA_CCACHE)
  # pch_defines/time_macros: ccache may cache TUs that use the precompiled header.
  set(_launcher env CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime ${OFA_CCACHE})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${_launcher})
  set(CMAKE_C_COMPILER_LAUNCHER ${_launcher})
endif()

# lld, else gold: linking LibTorch binaries with bfd costs ~2 s each, lld/gold a tenth of that.
foreach(_ld lld gold)
  find_program(OFA_LD_${_ld} ld.${_ld})
  if(OFA_LD_${_ld})
    add_link_options(-fuse-ld=${_ld})
    set(OFA_LINKER ${_ld})
    break()
  endif()
endforeach()

# Flags are global on purpose: a reused precompiled header is only valid when every target
# compiles with the same macros, so nothing below adds per-target definitions.
add_compile_options(-fPIC -pthread -Wall -Wextra -Wno-unused-parameter -Winvalid-pch)
add_link_options(-pthread)
# The C API only: Open MPI's deprecated C++ bindings would need libmpi_cxx (global so the PCH fits).
add_compile_definitions(OMPI_SKIP_MPICXX=1 MPICH_SKIP_MPICXX=1)

# ofa_pch: a tiny object library that owns the precompiled torch header; module targets call
# ofa_use_pch(target) to reuse it instead of parsing <torch/torch.h> (~23 s) in every TU.
function(ofa_use_pch target)
  target_precompile_headers(${target} REUSE_FROM ofa_pch)
endfunction()
