# Install rules: both libraries, the headers, the CMake package
# (find_package(attention)) and attention.pc for pkg-config.
set(ATTENTION_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/attention")

install(TARGETS attention_shared attention_static
  EXPORT attention-targets
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}"
  INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")

# <attention/ring.h> (it includes <mpi.h>) only with libattention_mpi.
set(_attn_header_exclude "")
if(NOT ATTENTION_MPI_ENABLED)
  set(_attn_header_exclude PATTERN "ring.h" EXCLUDE)
endif()
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/attention"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
  FILES_MATCHING PATTERN "*.h" ${_attn_header_exclude})
install(FILES
  "${PROJECT_BINARY_DIR}/include/attention/version.h"
  "${PROJECT_BINARY_DIR}/include/attention/export.h"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/attention")

install(EXPORT attention-targets
  NAMESPACE attention::
  DESTINATION "${ATTENTION_CMAKE_DIR}")

configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/attention-config.cmake.in"
  "${PROJECT_BINARY_DIR}/attention-config.cmake"
  INSTALL_DESTINATION "${ATTENTION_CMAKE_DIR}")
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/attention-config-version.cmake"
  COMPATIBILITY SameMajorVersion)
install(FILES
  "${PROJECT_BINARY_DIR}/attention-config.cmake"
  "${PROJECT_BINARY_DIR}/attention-config-version.cmake"
  DESTINATION "${ATTENTION_CMAKE_DIR}")

# pkg-config. A relative libdir is written relative to the .pc file's own
# location so `cmake --install --prefix X` relocates it; an absolute one is
# written as is (never "${prefix}//usr/lib").
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(ATTENTION_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(ATTENTION_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  file(RELATIVE_PATH _attn_up "/r/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/r")
  string(REGEX REPLACE "/$" "" _attn_up "${_attn_up}")
  set(ATTENTION_PC_PREFIX "\${pcfiledir}/${_attn_up}")
  set(ATTENTION_PC_LIBDIR "\${exec_prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(ATTENTION_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(ATTENTION_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()

# BLAS as -L/-l flags for static linking through pkg-config.
set(ATTENTION_PC_LIBS_PRIVATE "")
foreach(lib IN LISTS BLAS_LIBRARIES)
  if(lib MATCHES "^(.*)/lib([^/]+)\\.(so|a|dylib)[.0-9]*$")
    string(APPEND ATTENTION_PC_LIBS_PRIVATE " -L${CMAKE_MATCH_1} -l${CMAKE_MATCH_2}")
  elseif(lib MATCHES "^-")
    string(APPEND ATTENTION_PC_LIBS_PRIVATE " ${lib}")
  else()
    string(APPEND ATTENTION_PC_LIBS_PRIVATE " -l${lib}")
  endif()
endforeach()
if(ATTENTION_BLAS_RPATH)
  string(APPEND ATTENTION_PC_LIBS_PRIVATE " -Wl,-rpath,${ATTENTION_BLAS_RPATH}")
endif()
if(ATTENTION_OPENMP)
  string(APPEND ATTENTION_PC_LIBS_PRIVATE " ${OpenMP_C_FLAGS}")
endif()
if(ATTENTION_LIBM)
  string(APPEND ATTENTION_PC_LIBS_PRIVATE " -lm")
endif()
string(STRIP "${ATTENTION_PC_LIBS_PRIVATE}" ATTENTION_PC_LIBS_PRIVATE)

# jansson has its own .pc file; pkg-config --static follows it from here.
set(ATTENTION_PC_REQUIRES_PRIVATE "jansson")

configure_file("${PROJECT_SOURCE_DIR}/cmake/attention.pc.in"
               "${PROJECT_BINARY_DIR}/attention.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/attention.pc"
  DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig")

# libattention_mpi (ATTENTION_MPI): its own export set, loaded by the
# package config only when COMPONENTS mpi is asked for, after finding MPI;
# consumers of the core alone never need MPI. attention-mpi.pc for
# pkg-config (Requires: attention; MPI's flags as FindMPI found them).
if(ATTENTION_MPI_ENABLED)
  install(TARGETS attention_mpi_shared attention_mpi_static
    EXPORT attention-mpi-targets
    LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
    ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
    RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}"
    INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
  install(FILES "${PROJECT_BINARY_DIR}/include/attention/export_mpi.h"
    DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/attention")
  install(EXPORT attention-mpi-targets
    NAMESPACE attention::
    DESTINATION "${ATTENTION_CMAKE_DIR}")

  set(ATTENTION_MPI_PC_CFLAGS "")
  foreach(dir IN LISTS MPI_C_INCLUDE_DIRS)
    string(APPEND ATTENTION_MPI_PC_CFLAGS " -I${dir}")
  endforeach()
  set(ATTENTION_MPI_PC_LIBS "")
  foreach(lib IN LISTS MPI_C_LIBRARIES)
    if(lib MATCHES "^(.*)/lib([^/]+)\\.(so|a|dylib)[.0-9]*$")
      string(APPEND ATTENTION_MPI_PC_LIBS " -L${CMAKE_MATCH_1} -l${CMAKE_MATCH_2}")
    elseif(lib MATCHES "^-")
      string(APPEND ATTENTION_MPI_PC_LIBS " ${lib}")
    else()
      string(APPEND ATTENTION_MPI_PC_LIBS " -l${lib}")
    endif()
  endforeach()
  string(STRIP "${ATTENTION_MPI_PC_CFLAGS}" ATTENTION_MPI_PC_CFLAGS)
  string(STRIP "${ATTENTION_MPI_PC_LIBS}" ATTENTION_MPI_PC_LIBS)
  configure_file("${PROJECT_SOURCE_DIR}/cmake/attention-mpi.pc.in"
                 "${PROJECT_BINARY_DIR}/attention-mpi.pc" @ONLY)
  install(FILES "${PROJECT_BINARY_DIR}/attention-mpi.pc"
    DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
endif()
