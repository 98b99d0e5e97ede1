# Private names stay private: libattention.so exports exactly the functions
# the public headers declare (ATTN_EXPORT), and libattention.a defines no
# global symbol outside the public prefix attn_ (those same functions) and
# the internal prefix attni_.
#   cmake -DNM=... -DSHARED=... -DSTATIC=... -DHEADERS=<include/attention> -P symbols.cmake
file(GLOB headers "${HEADERS}/*.h" "${HEADERS}/*.h.in") # version.h is generated
set(declared "")
foreach(h IN LISTS headers)
  file(STRINGS "${h}" lines REGEX "ATTN_EXPORT")
  foreach(line IN LISTS lines)
    if(line MATCHES "(attn_[a-z0-9_]+)\\(")
      list(APPEND declared "${CMAKE_MATCH_1}")
    endif()
  endforeach()
endforeach()
list(SORT declared)
list(REMOVE_DUPLICATES declared)
list(LENGTH declared n_declared)
if(n_declared LESS 30)
  message(FATAL_ERROR "found only ${n_declared} ATTN_EXPORT declarations in ${HEADERS}")
endif()

# Defined global symbols (name in the third column of nm's output).
function(defined_symbols out)
  execute_process(COMMAND "${NM}" ${ARGN} --defined-only
    OUTPUT_VARIABLE text RESULT_VARIABLE rc ERROR_QUIET)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${NM} ${ARGN} failed")
  endif()
  string(REPLACE "\n" ";" lines "${text}")
  set(names "")
  foreach(line IN LISTS lines)
    # Names starting with __ are the compiler's own (sanitizer
    # instrumentation such as ASan's __odr_asan.*), not the library's.
    if(line MATCHES "^[0-9a-fA-F]+ [A-Z] ([^ ]+)$")
      set(name "${CMAKE_MATCH_1}")
      if(NOT name MATCHES "^__")
        list(APPEND names "${name}")
      endif()
    endif()
  endforeach()
  list(SORT names)
  list(REMOVE_DUPLICATES names)
  set(${out} "${names}" PARENT_SCOPE)
endfunction()

defined_symbols(exported -D "${SHARED}")
if(NOT exported STREQUAL declared)
  set(extra "${exported}")
  list(REMOVE_ITEM extra ${declared})
  set(missing "${declared}")
  list(REMOVE_ITEM missing ${exported})
  message(FATAL_ERROR "libattention.so exports other than the headers declare:\n"
    "  exported, not declared: ${extra}\n  declared, not exported: ${missing}")
endif()

defined_symbols(archived -g "${STATIC}")
set(stray "")
foreach(s IN LISTS archived)
  if(s MATCHES "^attni_")
    continue()
  endif()
  list(FIND declared "${s}" at)
  if(at EQUAL -1)
    list(APPEND stray "${s}")
  endif()
endforeach()
if(stray)
  message(FATAL_ERROR "libattention.a defines global symbols outside the public "
    "API and the attni_ prefix: ${stray}")
endif()
list(LENGTH archived n_archived)
message(STATUS "symbols: ${n_declared} exported functions, all declared; "
  "${n_archived} global symbols in the archive, all attn_ (public) or attni_")
