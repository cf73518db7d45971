/*
 * ple_core.h: the C ABI of ple-core, the no_std inference engine for PLE (Progressive
 * Layered Extraction) multi-task models. Link with libple_core.a (crate ple-core/capi).
 *
 * A model is plain data: a shape, an input layout and packed weights (see the ple-core crate
 * documentation, module `packed`, for the layout; ple-codegen generates all three). Nothing is
 * allocated; the caller provides a scratch buffer of ple_scratch_len(&model.shape) floats.
 *
 * Every function checks its arguments before touching memory: a null pointer with a non-zero
 * length, a misaligned pointer, wrong lengths, out-of-range categories, non-finite inputs and
 * output buffers overlapping other buffers are reported by a negative status code. A pointer
 * whose length is 0 may be NULL. The functions cannot check that a pointer really addresses as
 * many values as its length says: that is the caller's promise.
 *
 * The functions are reentrant; a model may be shared between threads as long as each call
 * has its own scratch and output buffers.
 */
#ifndef PLE_CORE_H
#define PLE_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes. */
#define PLE_OK 0
#define PLE_ERR_NULL (-1)              /* a required pointer is null */
#define PLE_ERR_SHAPE (-2)             /* invalid network shape */
#define PLE_ERR_INPUT_LAYOUT (-3)      /* input layout does not match the shape */
#define PLE_ERR_WEIGHTS_LENGTH (-4)    /* weight count differs from ple_packed_len */
#define PLE_ERR_SCRATCH_LENGTH (-5)    /* scratch shorter than ple_scratch_len */
#define PLE_ERR_INPUT_LENGTH (-6)      /* input length differs from the input layout */
#define PLE_ERR_OUTPUT_LENGTH (-7)     /* probabilities length differs from the task count */
#define PLE_ERR_GATES_LENGTH (-8)      /* gates length differs from ple_gates_len */
#define PLE_ERR_CATEGORY (-9)          /* category index outside its vocabulary */
#define PLE_ERR_NON_FINITE (-10)       /* an input value is NaN or infinite */
#define PLE_ERR_CANONICAL_LENGTH (-11) /* canonical parameter count is wrong */
#define PLE_ERR_POINTER (-12)          /* misaligned pointer or unaddressable length */
#define PLE_ERR_OVERLAP (-13)          /* an output buffer overlaps another buffer */
#define PLE_ERR_RANGE (-14)            /* an int8 model entry is out of its range */
#define PLE_ERR_STANDARDISATION (-15)  /* a numeric mean not finite, or a std not finite and > 0 */

/* The category index of a value not in the vocabulary: an all-zero one-hot block. */
#define PLE_UNKNOWN_CATEGORY 0xFFFFu

/* The network: `levels` extraction levels of `experts_per_task` experts per task plus
 * `shared_experts` shared experts, each a stack of ReLU layers of `expert_units` widths;
 * per task a tower of ReLU layers of `tower_units` widths and one logit. */
typedef struct ple_shape {
    uint32_t input_dim;
    uint32_t tasks;
    uint32_t experts_per_task;
    uint32_t shared_experts;
    uint32_t levels;
    const uint32_t *expert_units;
    uint32_t expert_layers;
    const uint32_t *tower_units; /* may be NULL when tower_layers == 0 */
    uint32_t tower_layers;
} ple_shape;

/* The dense input: `numeric` numeric columns, then one one-hot block per categorical field
 * of vocab_sizes[f] columns. */
typedef struct ple_input_layout {
    uint32_t numeric;
    const uint16_t *vocab_sizes; /* may be NULL when fields == 0 */
    uint32_t fields;
} ple_input_layout;

/* A model with float weights in the packed layout.
 *
 * numeric_mean and numeric_std (layout.numeric floats each, at every weight precision) make
 * the model standardise its numeric inputs as the trainer did: column j enters the network
 * as (x_j - numeric_mean[j]) / numeric_std[j], and the caller passes raw values. With both
 * NULL the model takes the numeric values as given (weights with the standardisation folded
 * in, or values the caller standardised). Only one of them NULL is PLE_ERR_NULL; a mean that
 * is not finite or a std that is not finite and positive is PLE_ERR_STANDARDISATION. The
 * two fields come last, so a struct initialised by position without them has both NULL. */
typedef struct ple_model_f32 {
    ple_shape shape;
    ple_input_layout layout;
    const float *weights;
    size_t weights_len;
    const float *numeric_mean; /* NULL, or layout.numeric means */
    const float *numeric_std;  /* NULL, or layout.numeric standard deviations */
} ple_model_f32;

/* A model with IEEE binary16 weights (bit patterns) in the packed layout; the
 * standardisation tables as in ple_model_f32. */
typedef struct ple_model_f16 {
    ple_shape shape;
    ple_input_layout layout;
    const uint16_t *weights;
    size_t weights_len;
    const float *numeric_mean; /* NULL, or layout.numeric means */
    const float *numeric_std;  /* NULL, or layout.numeric standard deviations */
} ple_model_f16;

/* PLE_OK if the model struct is consistent (shape, layout, weight count and
 * standardisation), else why not. */
int32_t ple_validate_f32(const ple_model_f32 *model);
int32_t ple_validate_f16(const ple_model_f16 *model);

/* Sizes of a shape, in values; 0 for a NULL or invalid shape. */
size_t ple_scratch_len(const ple_shape *shape); /* floats of scratch per call */
size_t ple_gates_len(const ple_shape *shape);   /* gate weights reported per call */
size_t ple_packed_len(const ple_shape *shape);  /* packed weights of the model */

/* Predicts one row. Writes one probability per task into `probabilities`
 * (probabilities_len == shape.tasks) and, when `gates` is not NULL, the gate weights
 * (gates_len == ple_gates_len): for each level, each task's gate (its own experts, then the
 * shared ones), then the shared gate on every level but the last. Pass gates = NULL,
 * gates_len = 0 for no gates. Returns PLE_OK or a negative status code. */
int32_t ple_predict_dense_f32(const ple_model_f32 *model,
                              const float *input, size_t input_len,
                              float *scratch, size_t scratch_len,
                              float *probabilities, size_t probabilities_len,
                              float *gates, size_t gates_len);

/* The sparse form: `numeric_len` == layout.numeric values and one category index per field
 * (categories_len == layout.fields; PLE_UNKNOWN_CATEGORY for an unseen value). */
int32_t ple_predict_sparse_f32(const ple_model_f32 *model,
                               const float *numeric, size_t numeric_len,
                               const uint16_t *categories, size_t categories_len,
                               float *scratch, size_t scratch_len,
                               float *probabilities, size_t probabilities_len,
                               float *gates, size_t gates_len);

int32_t ple_predict_dense_f16(const ple_model_f16 *model,
                              const float *input, size_t input_len,
                              float *scratch, size_t scratch_len,
                              float *probabilities, size_t probabilities_len,
                              float *gates, size_t gates_len);

int32_t ple_predict_sparse_f16(const ple_model_f16 *model,
                               const float *numeric, size_t numeric_len,
                               const uint16_t *categories, size_t categories_len,
                               float *scratch, size_t scratch_len,
                               float *probabilities, size_t probabilities_len,
                               float *gates, size_t gates_len);

/* ---- int8: integer-only inference, bit-exact on every target ----
 *
 * The arrays of ple-core's `int8::Int8Model` (see the ple-core documentation, module `int8`,
 * for their layout and the arithmetic; ple-codegen generates them). Every array is a pointer
 * and a length; ple_validate_int8 checks the lengths against the shape and every entry against
 * the bounds that prove the integer arithmetic exact (PLE_ERR_RANGE otherwise). */

/* A real multiplier: multiplier * 2^-right_shift (multiplier in [2^30, 2^31) or 0, right_shift
 * in 1..=63). */
typedef struct ple_requant {
    int32_t multiplier;
    uint8_t right_shift;
} ple_requant;

/* Per output of the first layer: acc = (category sum << category_shift) + numeric part + bias,
 * then the requantisation multiplier * 2^-right_shift (as ple_requant). */
typedef struct ple_sparse_output {
    int32_t bias;
    int32_t multiplier;
    uint8_t right_shift;
    uint8_t category_shift;
} ple_sparse_output;

typedef struct ple_model_int8 {
    ple_shape shape;
    ple_input_layout layout;
    uint8_t numeric_frac_bits;  /* numeric inputs are round(raw * 2^numeric_frac_bits) */
    /* The level-0 first layers of every expert and gate, as one sparse layer. */
    const ple_requant *numeric_prescale; /* one per numeric column */
    size_t numeric_prescale_len;
    const int8_t *category_weights;      /* [categories][outputs], zero-padded to 4n bytes */
    size_t category_weights_len;
    const int16_t *numeric_weights;      /* [outputs][numeric rounded up to even] */
    size_t numeric_weights_len;
    const ple_sparse_output *sparse_outputs; /* one per output */
    size_t sparse_outputs_len;
    /* Every other layer: weights [outputs][inputs] layer after layer, then per output. */
    const int8_t *dense_weights;
    size_t dense_weights_len;
    const int32_t *dense_bias;
    size_t dense_bias_len;
    const ple_requant *dense_requant;
    size_t dense_requant_len;
    /* Gate mixing ratios, Q15. */
    const uint16_t *mix_ratios;
    size_t mix_ratios_len;
} ple_model_int8;

/* PLE_OK if every array fits the shape and every entry its bounds, else why not. */
int32_t ple_validate_int8(const ple_model_int8 *model);

/* int32_t words of scratch ple_predict_int8 needs for any choice of outputs; 0 for a NULL or
 * invalid model. */
size_t ple_int8_scratch_len(const ple_model_int8 *model);

/* Gate weights ple_predict_int8 reports: for each level, each task gate's weights (its own
 * experts, then the shared ones); 0 for a NULL or invalid model. */
size_t ple_int8_gates_len(const ple_model_int8 *model);

/* Predicts one record: `numeric_len` == layout.numeric fixed-point values
 * (round(raw * 2^numeric_frac_bits)) and one category index per field (PLE_UNKNOWN_CATEGORY
 * for an unseen value). Writes per task the Q16 logit (`logits`, 65536 == 1.0) and the Q15
 * probability (`probabilities`, 32768 == 1.0); either may be NULL with length 0, not both
 * (PLE_ERR_NULL). `gates` as for the float models, in Q15, or NULL with gates_len = 0.
 * scratch_len must be at least ple_int8_scratch_len (with both outputs, the engine's own
 * words suffice). The model is validated on every call. Returns PLE_OK or a negative status
 * code: PLE_ERR_NULL, PLE_ERR_POINTER, PLE_ERR_SHAPE, PLE_ERR_INPUT_LAYOUT,
 * PLE_ERR_WEIGHTS_LENGTH and PLE_ERR_RANGE (the model), PLE_ERR_INPUT_LENGTH,
 * PLE_ERR_CATEGORY, PLE_ERR_SCRATCH_LENGTH, PLE_ERR_OUTPUT_LENGTH, PLE_ERR_GATES_LENGTH,
 * PLE_ERR_OVERLAP (an output overlapping another buffer or a model array). */
int32_t ple_predict_int8(const ple_model_int8 *model,
                         const int32_t *numeric, size_t numeric_len,
                         const uint16_t *categories, size_t categories_len,
                         int32_t *scratch, size_t scratch_len,
                         int32_t *logits, size_t logits_len,
                         uint16_t *probabilities, size_t probabilities_len,
                         uint16_t *gates, size_t gates_len);

/* ---- int8 with the model checked once ----
 *
 * ple_predict_int8 checks every entry of the model on every call (about a third of a Census
 * prediction's instructions). ple_int8_handle_init runs that check once and fills a handle
 * the caller allocates (stack, static or heap; it may be copied byte for byte);
 * ple_predict_int8_validated takes the handle instead of the model and checks only its tag
 * and fingerprints, which cover the model struct's pointers, lengths and counts and the
 * contents of its shape and vocabulary arrays. A handle that is zeroed, was never filled,
 * whose initialisation failed, that was corrupted, or whose shape or vocabulary arrays
 * changed is refused with PLE_ERR_HANDLE. The model struct may be discarded after
 * ple_int8_handle_init; its arrays must stay alive and unchanged while the handle is used
 * (a weight changed in place gives wrong results, never memory errors). The fingerprints
 * catch mistakes, not a deliberately forged handle. */
#define PLE_ERR_HANDLE (-16) /* not a handle ple_int8_handle_init filled, or its model changed */

#define PLE_INT8_HANDLE_WORDS 40
typedef struct ple_int8_handle {
    uint64_t opaque[PLE_INT8_HANDLE_WORDS];
} ple_int8_handle;

/* Checks `model` as ple_validate_int8 and, when it is valid, fills `handle`. Returns PLE_OK
 * or the model's status code, and then clears the handle to zeros; a NULL or misaligned
 * handle (PLE_ERR_NULL, PLE_ERR_POINTER), or one overlapping a model array
 * (PLE_ERR_OVERLAP), is left untouched. */
int32_t ple_int8_handle_init(const ple_model_int8 *model, ple_int8_handle *handle);

/* ple_predict_int8 on a filled handle: the same arguments after the handle, the same checks
 * of the buffers and the same results, without checking the model's entries again.
 * PLE_ERR_HANDLE for a handle ple_int8_handle_init did not fill successfully;
 * PLE_ERR_OVERLAP also for an output overlapping the handle. */
int32_t ple_predict_int8_validated(const ple_int8_handle *handle,
                                   const int32_t *numeric, size_t numeric_len,
                                   const uint16_t *categories, size_t categories_len,
                                   int32_t *scratch, size_t scratch_len,
                                   int32_t *logits, size_t logits_len,
                                   uint16_t *probabilities, size_t probabilities_len,
                                   uint16_t *gates, size_t gates_len);

/* A static English description of a status code. */
const char *ple_error_message(int32_t code);

#ifdef __cplusplus
}
#endif

#endif /* PLE_CORE_H */
