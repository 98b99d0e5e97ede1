# libattention_mpi's names, as tests/symbols.cmake checks the core's: the
# shared library exports exactly the functions <attention/ring.h> declares
# (ATTN_MPI_EXPORT), the archive defines no global symbol outside them and
# the internal prefix attni_ring_.
#   cmake -DNM=... -DSHARED=... -DSTATIC=... -DHEADER=<ring.h> -P symbols_mpi.cmake
file(STRINGS "${HEADER}" lines REGEX "ATTN_MPI_EXPORT")
set(declared "")
foreach(line IN LISTS lines)
  if(line MATCHES "(attn_ring_[a-z0-9_]+)\\(")
    list(APPEND declared "${CMAKE_MATCH_1}")
  endif()
endforeach()
list(SORT declared)
list(REMOVE_DUPLICATES declared)
list(LENGTH declared n_declared)
if(n_declared LESS 10)
  message(FATAL_ERROR "found only ${n_declared} ATTN_MPI_EXPORT declarations in ${HEADER}")
endif()

function(defined_symbols out)
  execute_process(COMMAND "${NM}" ${ARGN} --defined-only
    OUTPUT_VARIABLE text RESULT_VARIABLE rc ERROR_QUIET)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${NM} ${ARGN} failed")
  endif()
  string(REPLACE "\n" ";" text "${text}")
  set(names "")
  foreach(line IN LISTS text)
    if(line MATCHES "^[0-9a-fA-F]+ [A-Z] ([^ ]+)$")
      list(APPEND names "${CMAKE_MATCH_1}")
    endif()
  endforeach()
  list(SORT names)
  list(REMOVE_DUPLICATES names)
  set(${out} "${names}" PARENT_SCOPE)
endfunction()

defined_symbols(exported -D "${SHARED}")
# Names starting with "_" are the toolchain's (_init, _fini, _edata,
# sanitizer instrumentation), not the library's.
list(FILTER exported EXCLUDE REGEX "^_")
if(NOT exported STREQUAL declared)
  message(FATAL_ERROR "libattention_mpi.so exports other than ring.h declares:\n"
    "  exported: ${exported}\n  declared: ${declared}")
endif()
defined_symbols(archived -g "${STATIC}")
list(FILTER archived EXCLUDE REGEX "^_")
set(stray "")
foreach(s IN LISTS archived)
  list(FIND declared "${s}" at)
  if(at EQUAL -1 AND NOT s MATCHES "^attni_ring_")
    list(APPEND stray "${s}")
  endif()
endforeach()
if(stray)
  message(FATAL_ERROR "libattention_mpi.a defines global symbols outside ring.h "
    "and attni_ring_: ${stray}")
endif()
message(STATUS "libattention_mpi symbols: ${n_declared} exported, all declared")
