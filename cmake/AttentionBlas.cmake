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
