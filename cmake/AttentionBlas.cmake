# Finds a CBLAS: OpenBLAS unless the caller picked another BLA_VENDOR.
# Result: the imported target BLAS::BLAS, plus ATTENTION_CBLAS_INCLUDE_DIR
# (FindBLAS gives no include directory for cblas.h).
if(NOT DEFINED BLA_VENDOR)
  set(BLA_VENDOR OpenBLAS)
endif()
set(ATTENTION_BLA_VENDOR "${BLA_VENDOR}")

find_package(BLAS)
if(NOT BLAS_FOUND)
  message(FATAL_ERROR
    "libattention needs a CBLAS library and none was found for "
    "BLA_VENDOR=${BLA_VENDOR}. On Debian: apt-get install libopenblas-dev. "
    "To use another BLAS, configure with -DBLA_VENDOR=<vendor> (see CMake's FindBLAS).")
endif()

find_path(ATTENTION_CBLAS_INCLUDE_DIR cblas.h
  PATH_SUFFIXES openblas openblas-pthread openblas-openmp openblas-serial
  DOC "Directory holding cblas.h")
if(NOT ATTENTION_CBLAS_INCLUDE_DIR)
  message(FATAL_ERROR
    "Found BLAS (${BLAS_LIBRARIES}) but no cblas.h. On Debian: "
    "apt-get install libopenblas-dev; otherwise set ATTENTION_CBLAS_INCLUDE_DIR.")
endif()

include(CheckSymbolExists)
include(CMakePushCheckState)
cmake_push_check_state(RESET)
set(CMAKE_REQUIRED_INCLUDES "${ATTENTION_CBLAS_INCLUDE_DIR}")
set(CMAKE_REQUIRED_LIBRARIES ${BLAS_LIBRARIES})
check_symbol_exists(cblas_sgemm "cblas.h" ATTENTION_HAVE_CBLAS_SGEMM)
cmake_pop_check_state()
if(NOT ATTENTION_HAVE_CBLAS_SGEMM)
  message(FATAL_ERROR
    "The BLAS found (${BLAS_LIBRARIES}) does not provide cblas_sgemm. "
    "Pick a CBLAS with -DBLA_VENDOR=... (OpenBLAS, FlexiBLAS, Intel10_64lp, ...).")
endif()
message(STATUS "libattention: CBLAS from ${BLAS_LIBRARIES}")

# Fast by default. The library's threads are OpenMP; inside them every
# sgemm must run on its own thread. OpenBLAS's OpenMP build does that by
# itself (and OpenBLAS advises it for OpenMP programs), while Debian's
# default, the pthread build, threads each product and serialises the
# threads' calls, so the library falls back to small tiles (half speed for
# the materialised path). So when the library's OpenMP is GCC's libgomp and
# Debian's OpenMP build of OpenBLAS is installed, link that one, and give
# libattention a run path to its directory: OpenBLAS's builds share one
# soname, and the run path makes the loader pick the OpenMP one for
# libattention whatever the system's default is. The package files record
# the same library. An application that loaded another libopenblas.so.0
# first keeps it (the library then adapts, more slowly).
option(ATTENTION_OPENMP_BLAS
  "With GCC's OpenMP and OpenBLAS, link OpenBLAS's OpenMP build if installed" ON)
set(ATTENTION_BLAS_RPATH "")
if(ATTENTION_OPENMP_BLAS AND ATTENTION_BLA_VENDOR STREQUAL "OpenBLAS"
   AND CMAKE_LIBRARY_ARCHITECTURE)
  find_package(OpenMP QUIET COMPONENTS C)
  if(OpenMP_C_FOUND AND "gomp" IN_LIST OpenMP_C_LIB_NAMES)
    set(_attn_openmp_dir "/usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp")
    find_library(ATTENTION_OPENBLAS_OPENMP_LIBRARY NAMES openblas
      PATHS "${_attn_openmp_dir}" NO_DEFAULT_PATH
      DOC "OpenBLAS's OpenMP build (Debian: libopenblas-openmp-dev)")
    if(ATTENTION_OPENBLAS_OPENMP_LIBRARY)
      set(BLAS_LIBRARIES "${ATTENTION_OPENBLAS_OPENMP_LIBRARY}")
      set_target_properties(BLAS::BLAS PROPERTIES
        INTERFACE_LINK_LIBRARIES "${ATTENTION_OPENBLAS_OPENMP_LIBRARY}")
      get_filename_component(ATTENTION_BLAS_RPATH
        "${ATTENTION_OPENBLAS_OPENMP_LIBRARY}" DIRECTORY)
      message(STATUS "libattention: OpenBLAS's OpenMP build (${ATTENTION_OPENBLAS_OPENMP_LIBRARY})")
    endif()
  endif()
endif()
