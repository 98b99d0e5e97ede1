# Warning and sanitizer flags for the project's own targets only: a consumer
# that add_subdirectory()s us keeps its own flags.
function(attention_target_defaults target)
  if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
    if(ATTENTION_WERROR)
      target_compile_options(${target} PRIVATE -Werror)
    endif()
  endif()
  if(ATTENTION_SANITIZE)
    set(san -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
    target_compile_options(${target} PRIVATE ${san})
    target_link_options(${target} PRIVATE ${san})
  endif()
  # ThreadSanitizer (tests/tsan/run.sh): meant for clang with LLVM's OpenMP,
  # whose Archer tool tells TSan about OpenMP synchronisation.
  if(ATTENTION_TSAN)
    set(tsan -fsanitize=thread -g -O1 -fno-omit-frame-pointer)
    target_compile_options(${target} PRIVATE ${tsan})
    target_link_options(${target} PRIVATE ${tsan})
  endif()
  # Fuzzing: coverage feedback for libFuzzer in the library's own code, and
  # ASan + UBSan so that memory errors and undefined behaviour are crashes.
  # The harnesses add -fsanitize=fuzzer at link (tests/fuzz).
  if(ATTENTION_FUZZ)
    set(fuzz_san -fsanitize=address,undefined -fno-sanitize-recover=all
                 -fno-omit-frame-pointer)
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer-no-link ${fuzz_san})
    target_link_options(${target} PRIVATE ${fuzz_san})
  endif()
endfunction()
