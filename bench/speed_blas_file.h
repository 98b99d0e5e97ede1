/* Which file the BLAS came from at run time: Debian's alternatives (and
 * LD_LIBRARY_PATH) can swap libblas.so.3 without a rebuild. */
#ifndef BENCH_SPEED_BLAS_FILE_H
#define BENCH_SPEED_BLAS_FILE_H

/* The path of the shared object that provides cblas_sgemm, or NULL when
 * it cannot be told (static link, no dladdr). */
const char *speed_blas_file(void);

#endif /* BENCH_SPEED_BLAS_FILE_H */
