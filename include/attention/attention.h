/*
 * libattention: exact transformer attention on the CPU over BLAS.
 * Include this one header; it pulls in the rest.
 */
#ifndef ATTENTION_ATTENTION_H
#define ATTENTION_ATTENTION_H

#include <attention/export.h>
#include <attention/version.h>
#include <attention/status.h>
#include <attention/softmax.h>
#include <attention/sdpa.h>
#include <attention/sdpa_backward.h>
#include <attention/merge.h>
#include <attention/alibi.h>
#include <attention/rope.h>
#include <attention/kv_cache.h>
#include <attention/heads.h>
#include <attention/params.h>
#include <attention/linear.h>
#include <attention/mha.h>
#include <attention/optim.h>
#include <attention/safetensors.h>

#endif /* ATTENTION_ATTENTION_H */
