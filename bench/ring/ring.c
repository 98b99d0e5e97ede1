/*
 * attention-bench-ring: ring attention (libattention_mpi) step by step,
 * under mpirun. For each run (forward or backward, zigzag or contiguous
 * layout) and each of the P steps: compute time (mean over ranks and the
 * slowest rank, which the lockstep ring waits for), the communication left
 * exposed after the compute (time blocked in MPI_Wait), the same transfer
 * timed alone (a ring shift of the step's bytes with nothing to overlap),
 * the fraction of it hidden behind compute, and bytes sent per rank.
 *
 *   mpirun -np 4 build/bench/attention-bench-ring [--T 8192] [--heads 8]
 *       [--kv-heads 8] [--d 64] [--layout zigzag|contiguous|both] [--full]
 *       [--pass forward|backward|both] [--reps 3] [--csv]
 *
 * On a machine with fewer cores than ranks the ranks share cores: compute
 * times are then those of shared cores, and MPI's shared-memory copies
 * compete with compute. Read the overlap and the traffic there, not the
 * speed; README "Scaling across machines" scales the numbers up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "ring_bench.h"

static int usage(int rank)
{
    if (rank == 0)
        fprintf(stderr, "usage: attention-bench-ring [--T N] [--heads H] [--kv-heads H] "
                        "[--d D] [--layout zigzag|contiguous|both] [--full] "
                        "[--pass forward|backward|both] [--reps N] [--csv]\n");
    return 2;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, world;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    rb_config c = {8192, 8, 8, 64, 1, ATTN_RING_ZIGZAG, 0, 3, 0};
    const char *layouts = "both", *passes = "both";
    int bad = 0;
    for (int i = 1; i < argc && !bad; ++i) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--full")) c.causal = 0;
        else if (!strcmp(a, "--csv")) c.csv = 1;
        else if (val == NULL) bad = 1;
        else if (!strcmp(a, "--T")) c.T = atoll(val), ++i;
        else if (!strcmp(a, "--heads")) c.heads = atoll(val), ++i;
        else if (!strcmp(a, "--kv-heads")) c.kv_heads = atoll(val), ++i;
        else if (!strcmp(a, "--d")) c.d = atoll(val), ++i;
        else if (!strcmp(a, "--reps")) c.reps = atoi(val), ++i;
        else if (!strcmp(a, "--layout")) layouts = val, ++i;
        else if (!strcmp(a, "--pass")) passes = val, ++i;
        else bad = 1;
    }
    if (bad || c.T < 2 * world || c.T % (2 * world) || c.heads < 1 || c.kv_heads < 1 ||
        c.heads % c.kv_heads || c.d < 1 || c.reps < 1) {
        if (rank == 0 && !bad)
            fprintf(stderr, "T must be a multiple of 2P = %d; heads a multiple of kv-heads\n",
                    2 * world);
        MPI_Finalize();
        return usage(rank);
    }
    if (rank == 0 && !c.csv)
        printf("attention-bench-ring: %d ranks. Timings are noisy on a shared machine, "
               "and with more ranks than cores the ranks share them (compute slows, "
               "shared-memory copies compete with it): read overlap and traffic here.\n",
               world);
    if (rank == 0 && c.csv)
        printf("pass,layout,mask,T,P,Hq,Hkv,d,step,compute_mean_ms,compute_max_ms,"
               "exposed_wait_ms,transfer_alone_ms,hidden,block_bytes,gflops_slowest\n");
    int status = 0;
    for (int pb = 0; pb < 2; ++pb) {
        if ((pb == 0 && !strcmp(passes, "backward")) || (pb == 1 && !strcmp(passes, "forward")))
            continue;
        for (int lz = 1; lz >= 0; --lz) {
            if ((lz && !strcmp(layouts, "contiguous")) || (!lz && !strcmp(layouts, "zigzag")))
                continue;
            c.backward = pb;
            c.layout = lz ? ATTN_RING_ZIGZAG : ATTN_RING_CONTIGUOUS;
            rb_result r = rb_measure(&c);
            if (r.status != ATTN_OK) {
                if (rank == 0)
                    fprintf(stderr, "ring call failed: %s\n", attn_strerror(r.status));
                status = 1;
            } else if (rank == 0) {
                rb_report(&c, &r);
            }
            free(r.steps);
        }
    }
    MPI_Finalize();
    return status;
}
