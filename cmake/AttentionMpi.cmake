# ATTENTION_MPI: whether to build libattention_mpi, the ring attention
# component over MPI (include/attention/ring.h, src/mpi). The core library
# never depends on MPI.
#   AUTO (default)  build it when MPI's C bindings are found (never when
#                   cross-compiling: the host's MPI is not the target's)
#   ON              build it; fail when MPI is not found
#   OFF             do not look for MPI
# Sets ATTENTION_MPI_ENABLED, and ATTENTION_MPIEXEC_ENV: the environment
# the MPI tests and benchmarks run mpiexec with (Open MPI: allowed as root,
# as CI runs; oversubscribed, since the tests run up to 4 ranks on 2 cores).
set(ATTENTION_MPI AUTO CACHE STRING
  "Build libattention_mpi (ring attention over MPI): AUTO (when MPI is found), ON (required), OFF")
set_property(CACHE ATTENTION_MPI PROPERTY STRINGS AUTO ON OFF)

set(ATTENTION_MPI_ENABLED OFF)
if(NOT ATTENTION_MPI)
  message(STATUS "libattention_mpi: off (ATTENTION_MPI=OFF)")
elseif(ATTENTION_MPI STREQUAL "AUTO" AND CMAKE_CROSSCOMPILING)
  message(STATUS "libattention_mpi: off (cross-compiling; set ATTENTION_MPI=ON with a target MPI)")
else()  # ON, or AUTO natively
  if(ATTENTION_MPI STREQUAL "AUTO")
    find_package(MPI QUIET COMPONENTS C)
  else()
    find_package(MPI REQUIRED COMPONENTS C)
  endif()
  if(MPI_C_FOUND)
    set(ATTENTION_MPI_ENABLED ON)
    message(STATUS "libattention_mpi: on (MPI ${MPI_C_VERSION}, ${MPIEXEC_EXECUTABLE})")
  else()
    message(STATUS "libattention_mpi: off (no MPI found; on Debian: apt-get install libopenmpi-dev openmpi-bin)")
  endif()
endif()

set(ATTENTION_MPIEXEC_ENV "")
if(ATTENTION_MPI_ENABLED AND MPIEXEC_EXECUTABLE)
  execute_process(COMMAND "${MPIEXEC_EXECUTABLE}" --version
    OUTPUT_VARIABLE _attn_mpiexec_version ERROR_QUIET RESULT_VARIABLE _attn_rc)
  if(_attn_mpiexec_version MATCHES "Open MPI|OpenRTE")
    set(ATTENTION_MPIEXEC_ENV
      "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_rmaps_base_oversubscribe=1")
  endif()
endif()
