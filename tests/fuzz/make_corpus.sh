#!/bin/sh
# Regenerates the seed corpora in tests/fuzz/corpus/ with fuzz_make_corpus
# (built in build-fuzz/ by run.sh or by hand). Existing seeds of the same
# name are overwritten; regress-* files (minimised crashers) are kept.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
gen="$repo/build-fuzz/tests/fuzz/fuzz_make_corpus"
if [ ! -x "$gen" ]; then
  echo "make_corpus.sh: build $gen first (tests/fuzz/run.sh 0 builds it)" >&2
  exit 1
fi
ASAN_OPTIONS=detect_leaks=0 "$gen" "$here/corpus"
# attn_params_save writes through a temporary that it renames: none left.
ls "$here"/corpus/*/ | wc -l | sed 's/^/seed files: /'
