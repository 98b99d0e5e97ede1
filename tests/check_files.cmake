# cmake -DDIR=<dir> -DFILES=<a|b|...> -P check_files.cmake
# Fails unless every file of FILES ('|'-separated) is in DIR and not empty:
# the pictures a bench or example run in ctest was to write.
cmake_minimum_required(VERSION 3.21)
string(REPLACE "|" ";" files "${FILES}")
list(REMOVE_ITEM files "")
list(LENGTH files n)
foreach(f IN LISTS files)
  if(NOT EXISTS "${DIR}/${f}")
    message(FATAL_ERROR "missing: ${DIR}/${f}")
  endif()
  file(SIZE "${DIR}/${f}" size)
  if(size EQUAL 0)
    message(FATAL_ERROR "empty: ${DIR}/${f}")
  endif()
endforeach()
message(STATUS "all ${n} files written in ${DIR}")
