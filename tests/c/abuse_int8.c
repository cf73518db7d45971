/*
 * abuse_int8.c: the int8 entry points of ple_core.h (ple_validate_int8, ple_int8_scratch_len,
 * ple_int8_gates_len, ple_predict_int8, ple_int8_handle_init, ple_predict_int8_validated)
 * with hostile arguments: null pointers, zero, short, long and huge lengths, misaligned and
 * overlapping buffers, out-of-range and unknown categories, the extreme fixed-point inputs,
 * model structs with every field made inconsistent (counts, pointers, lengths, shifts,
 * multipliers, biases, weight sums, mixing ratios), and handles that were never filled,
 * corrupted, misplaced or gone stale. Every prediction check runs through the model and
 * through a handle, and after every refusal the outputs must be untouched.
 *
 * Every array and buffer ends right before an inaccessible page (abuse.h); each is allocated
 * with one spare element before it, so that a length one too long still addresses memory
 * (the caller's promise holds) and only the library's checks stand between it and a fault.
 */
#include <stdint.h>
#include <string.h>

#include "abuse.h"

/* The network of abuse.c: 2 numeric columns, fields of 3 and 2 categories (5 category rows),
 * 2 tasks, 1 expert per task and 1 shared, 2 levels, experts 4-3, towers 2. The array
 * lengths follow from it (see the ple-core documentation, module int8). */
enum {
    NUMERIC = 2,
    FIELDS = 2,
    TASKS = 2,
    SPARSE_OUTPUTS = 19, /* 3 experts x 4 units + 2 task gates x 2 + the shared gate's 3 */
    CATEGORY_LEN = 96,   /* 4 rows x 19, then the last row's 19 rounded up to a word */
    NUMERIC_W_LEN = 38,  /* 19 outputs x 2 columns */
    DENSE_W_LEN = 136,
    DENSE_OUT = 40,
    MIX_LEN = 11, /* level 0: 2 task gates x 2 + shared gate 3; level 1: 2 x 2 */
    GATES = 8     /* 2 levels x 2 tasks x (1 own + 1 shared) experts */
};

static const int32_t LOGIT_SENTINEL = 0x5A5A5A5A;
static const uint16_t Q15_SENTINEL = 0xA5A5u;

/* `n` values of `size` bytes ending at an inaccessible page, one spare value before them. */
static void *spare_before(size_t n, size_t size) {
    return (unsigned char *)guarded((n + 1) * size) + size;
}

/* The model's arrays, writable so that entries can be made bad and restored. */
typedef struct {
    uint32_t *expert_units, *tower_units;
    uint16_t *vocab;
    ple_requant *prescale;
    int8_t *category;
    int16_t *numeric_w;
    ple_sparse_output *outputs;
    int8_t *dense_w;
    int32_t *dense_bias;
    ple_requant *dense_requant;
    uint16_t *mix;
} arrays;

/* A deterministic value in [-half, half). */
static int spread(size_t i, int half) {
    return (int)((i * 37u + 11u) % (2u * (unsigned)half)) - half;
}

static arrays make_arrays(void) {
    arrays a;
    a.expert_units = spare_before(2, sizeof(uint32_t));
    a.expert_units[0] = 4;
    a.expert_units[1] = 3;
    a.tower_units = spare_before(1, sizeof(uint32_t));
    a.tower_units[0] = 2;
    a.vocab = spare_before(FIELDS, sizeof(uint16_t));
    a.vocab[0] = 3;
    a.vocab[1] = 2;
    a.prescale = spare_before(NUMERIC, sizeof(ple_requant));
    for (int i = -1; i < NUMERIC; i++) { /* the spare one valid too, see ARRAY below */
        a.prescale[i] = (ple_requant){1 << 30, 31}; /* x 0.5 */
    }
    a.category = spare_before(CATEGORY_LEN, 1);
    for (size_t i = 0; i < CATEGORY_LEN; i++) {
        a.category[i] = (int8_t)(i < 4 * SPARSE_OUTPUTS + SPARSE_OUTPUTS ? spread(i, 60) : 0);
    }
    a.numeric_w = spare_before(NUMERIC_W_LEN, sizeof(int16_t));
    for (size_t i = 0; i < NUMERIC_W_LEN; i++) {
        a.numeric_w[i] = (int16_t)spread(i, 100);
    }
    a.outputs = spare_before(SPARSE_OUTPUTS, sizeof(ple_sparse_output));
    for (size_t i = 0; i < SPARSE_OUTPUTS; i++) {
        a.outputs[i] = (ple_sparse_output){spread(i, 2000), 1 << 30, 31, 8};
    }
    a.dense_w = spare_before(DENSE_W_LEN, 1);
    for (size_t i = 0; i < DENSE_W_LEN; i++) {
        a.dense_w[i] = (int8_t)spread(i, 30);
    }
    a.dense_bias = spare_before(DENSE_OUT, sizeof(int32_t));
    a.dense_requant = spare_before(DENSE_OUT, sizeof(ple_requant));
    for (size_t i = 0; i < DENSE_OUT; i++) {
        a.dense_bias[i] = spread(i, 1000);
        a.dense_requant[i] = (ple_requant){(1 << 30) + (int32_t)i, 38};
    }
    a.mix = spare_before(MIX_LEN, sizeof(uint16_t));
    for (size_t i = 0; i < MIX_LEN; i++) {
        a.mix[i] = (uint16_t)(i % 2 ? 16384 : 32768);
    }
    return a;
}

static ple_model_int8 model_of(const arrays *a) {
    ple_model_int8 m;
    memset(&m, 0, sizeof m);
    m.shape = (ple_shape){NUMERIC + 3 + 2, TASKS, 1, 1, 2, a->expert_units, 2, a->tower_units, 1};
    m.layout = (ple_input_layout){NUMERIC, a->vocab, FIELDS};
    m.numeric_frac_bits = 8;
    m.numeric_prescale = a->prescale;
    m.numeric_prescale_len = NUMERIC;
    m.category_weights = a->category;
    m.category_weights_len = CATEGORY_LEN;
    m.numeric_weights = a->numeric_w;
    m.numeric_weights_len = NUMERIC_W_LEN;
    m.sparse_outputs = a->outputs;
    m.sparse_outputs_len = SPARSE_OUTPUTS;
    m.dense_weights = a->dense_w;
    m.dense_weights_len = DENSE_W_LEN;
    m.dense_bias = a->dense_bias;
    m.dense_bias_len = DENSE_OUT;
    m.dense_requant = a->dense_requant;
    m.dense_requant_len = DENSE_OUT;
    m.mix_ratios = a->mix;
    m.mix_ratios_len = MIX_LEN;
    return m;
}

/* The buffers of one prediction, each ending at an inaccessible page. */
typedef struct {
    int32_t *numeric, *scratch, *logits;
    uint16_t *categories, *probabilities, *gates;
    size_t scratch_len;
} buffers;

/* The arguments of one call, which a check may point anywhere. */
typedef struct {
    const int32_t *nu;
    size_t nu_len;
    const uint16_t *ca;
    size_t ca_len;
    int32_t *sc;
    size_t sc_len;
    int32_t *lo;
    size_t lo_len;
    uint16_t *pr;
    size_t pr_len;
    uint16_t *ga;
    size_t ga_len;
} args;

/* The model of a call: the struct, or a handle filled from it. */
typedef struct {
    const ple_model_int8 *model;
    const ple_int8_handle *handle;
    int use_handle;
} via;

static int32_t call(via v, args a) {
    if (v.use_handle) {
        return ple_predict_int8_validated(v.handle, a.nu, a.nu_len, a.ca, a.ca_len, a.sc,
                                          a.sc_len, a.lo, a.lo_len, a.pr, a.pr_len, a.ga,
                                          a.ga_len);
    }
    return ple_predict_int8(v.model, a.nu, a.nu_len, a.ca, a.ca_len, a.sc, a.sc_len, a.lo,
                            a.lo_len, a.pr, a.pr_len, a.ga, a.ga_len);
}

/* A row: numeric (0.5, -1.25) at 8 fraction bits, categories (2, 1). */
static void set_row(buffers *b) {
    b->numeric[0] = 128;
    b->numeric[1] = -320;
    b->categories[0] = 2;
    b->categories[1] = 1;
}

/* Sentinels in every output and the scratch, and the arguments of a valid call. */
static args valid(buffers *b) {
    for (size_t i = 0; i < b->scratch_len; i++) {
        b->scratch[i] = LOGIT_SENTINEL;
    }
    for (size_t t = 0; t < TASKS; t++) {
        b->logits[t] = LOGIT_SENTINEL;
        b->probabilities[t] = Q15_SENTINEL;
    }
    for (size_t g = 0; g < GATES; g++) {
        b->gates[g] = Q15_SENTINEL;
    }
    args a = {b->numeric, NUMERIC, b->categories, FIELDS, b->scratch, b->scratch_len,
              b->logits, TASKS, b->probabilities, TASKS, b->gates, GATES};
    return a;
}

/* The outputs hold their sentinels (the scratch is working memory: a category found out of
 * range has already been written there). */
static int untouched(const buffers *b) {
    int ok = 1;
    for (size_t t = 0; t < TASKS; t++) {
        ok &= b->logits[t] == LOGIT_SENTINEL && b->probabilities[t] == Q15_SENTINEL;
    }
    for (size_t g = 0; g < GATES; g++) {
        ok &= b->gates[g] == Q15_SENTINEL;
    }
    return ok;
}

static void expect_code(int32_t got, int32_t code, const char *what, int line) {
    checks++;
    if (got != code) {
        failures++;
        printf("FAIL abuse_int8.c:%d: %s: %d (%s), expected %d (%s)\n", line, what, (int)got,
               ple_error_message(got), (int)code, ple_error_message(code));
    }
}

/* Expects the call with `a` to fail with `code` and leave every output untouched. */
#define REFUSES(v, b, a, code, what)                                          \
    do {                                                                      \
        expect_code(call(v, a), code, what, __LINE__);                        \
        EXPECT(untouched(b), "outputs untouched after: " what);               \
    } while (0)

/* The valid calls and every bad argument, through `v`; `model_array` is one of the model's
 * arrays (for the overlap checks), `reference` the outputs of a valid call through the
 * model (NULL on the first pass, which records them). */
static void predictions(via v, buffers *b, uint16_t *model_array, int32_t reference[2 * TASKS]) {
    args a;
    set_row(b);

    /* Valid: every output, then each choice of outputs gives the same values. */
    a = valid(b);
    expect_code(call(v, a), PLE_OK, "a valid call", __LINE__);
    int32_t got[2 * TASKS] = {b->logits[0], b->logits[1], b->probabilities[0],
                              b->probabilities[1]};
    for (int t = 0; t < TASKS; t++) {
        EXPECT(b->probabilities[t] <= 32768, "a Q15 probability is at most 1");
    }
    if (v.use_handle) {
        EXPECT(memcmp(got, reference, sizeof got) == 0, "handle and model agree bit for bit");
    } else {
        memcpy(reference, got, sizeof got);
    }
    for (int g = 0; g < GATES; g += 2) {
        int sum = b->gates[g] + b->gates[g + 1];
        EXPECT(sum >= 32766 && sum <= 32770, "a gate's Q15 weights sum to one");
    }
    a = valid(b);
    a.lo = NULL;
    a.lo_len = 0;
    a.ga = NULL;
    a.ga_len = 0;
    expect_code(call(v, a), PLE_OK, "probabilities alone", __LINE__);
    EXPECT(b->probabilities[0] == got[2] && b->probabilities[1] == got[3] &&
               b->logits[0] == LOGIT_SENTINEL,
           "probabilities alone are the same, the logits unwritten");
    a = valid(b);
    a.pr = NULL;
    a.pr_len = 0;
    expect_code(call(v, a), PLE_OK, "logits alone", __LINE__);
    EXPECT(b->logits[0] == got[0] && b->logits[1] == got[1] &&
               b->probabilities[0] == Q15_SENTINEL,
           "logits alone are the same, the probabilities unwritten");

    /* The unknown category and the extreme fixed-point inputs are valid. */
    a = valid(b);
    b->categories[0] = PLE_UNKNOWN_CATEGORY;
    expect_code(call(v, a), PLE_OK, "an unknown category", __LINE__);
    set_row(b);
    const int32_t extremes[][2] = {{INT32_MAX, INT32_MIN}, {INT32_MIN, INT32_MAX}, {0, 0}};
    for (size_t i = 0; i < sizeof extremes / sizeof extremes[0]; i++) {
        a = valid(b);
        memcpy(b->numeric, extremes[i], sizeof extremes[i]);
        expect_code(call(v, a), PLE_OK, "extreme fixed-point inputs saturate", __LINE__);
        EXPECT(b->probabilities[0] <= 32768 && b->probabilities[1] <= 32768,
               "extreme inputs give probabilities in [0, 1]");
    }
    set_row(b);

    /* Null pointers with non-zero lengths, and neither output. */
    a = valid(b); a.nu = NULL; REFUSES(v, b, a, PLE_ERR_NULL, "numeric NULL");
    a = valid(b); a.ca = NULL; REFUSES(v, b, a, PLE_ERR_NULL, "categories NULL");
    a = valid(b); a.sc = NULL; REFUSES(v, b, a, PLE_ERR_NULL, "scratch NULL");
    a = valid(b); a.lo = NULL; REFUSES(v, b, a, PLE_ERR_NULL, "logits NULL");
    a = valid(b); a.pr = NULL; REFUSES(v, b, a, PLE_ERR_NULL, "probabilities NULL");
    a = valid(b); a.ga = NULL; REFUSES(v, b, a, PLE_ERR_NULL, "gates NULL");
    a = valid(b); a.lo = NULL; a.lo_len = 0; a.pr = NULL; a.pr_len = 0;
    REFUSES(v, b, a, PLE_ERR_NULL, "neither logits nor probabilities");

    /* Zero, short and long lengths (a long one still addresses memory). */
    a = valid(b); a.nu = NULL; a.nu_len = 0; REFUSES(v, b, a, PLE_ERR_INPUT_LENGTH, "no numeric");
    a = valid(b); a.ca_len = 0; REFUSES(v, b, a, PLE_ERR_INPUT_LENGTH, "no categories");
    a = valid(b); a.nu_len = 1; REFUSES(v, b, a, PLE_ERR_INPUT_LENGTH, "a numeric value short");
    a = valid(b); a.nu = b->numeric - 1; a.nu_len = NUMERIC + 1;
    REFUSES(v, b, a, PLE_ERR_INPUT_LENGTH, "a numeric value too many");
    a = valid(b); a.ca = b->categories - 1; a.ca_len = FIELDS + 1;
    REFUSES(v, b, a, PLE_ERR_INPUT_LENGTH, "a field too many");
    a = valid(b); a.sc_len = 0; REFUSES(v, b, a, PLE_ERR_SCRATCH_LENGTH, "no scratch");
    a = valid(b); a.sc_len = b->scratch_len - TASKS - 1;
    REFUSES(v, b, a, PLE_ERR_SCRATCH_LENGTH, "scratch short of the engine's words");
    a = valid(b); a.sc_len = b->scratch_len - TASKS; a.lo = NULL; a.lo_len = 0;
    REFUSES(v, b, a, PLE_ERR_SCRATCH_LENGTH, "no room for the omitted logits");
    a = valid(b); a.sc_len = b->scratch_len - TASKS; a.pr = NULL; a.pr_len = 0;
    REFUSES(v, b, a, PLE_ERR_SCRATCH_LENGTH, "no room for the omitted probabilities");
    a = valid(b); a.lo_len = 1; REFUSES(v, b, a, PLE_ERR_OUTPUT_LENGTH, "logits short");
    a = valid(b); a.lo = b->logits - 1; a.lo_len = TASKS + 1;
    REFUSES(v, b, a, PLE_ERR_OUTPUT_LENGTH, "logits long");
    a = valid(b); a.pr_len = 0; REFUSES(v, b, a, PLE_ERR_OUTPUT_LENGTH, "probabilities of 0");
    a = valid(b); a.ga_len = 0; REFUSES(v, b, a, PLE_ERR_GATES_LENGTH, "gates of length 0");
    a = valid(b); a.ga_len = GATES - 1; REFUSES(v, b, a, PLE_ERR_GATES_LENGTH, "gates short");
    a = valid(b); a.ga = b->gates - 1; a.ga_len = GATES + 1;
    REFUSES(v, b, a, PLE_ERR_GATES_LENGTH, "gates long");

    /* Lengths too large to address: refused from the length alone. */
    a = valid(b); a.nu_len = SIZE_MAX; REFUSES(v, b, a, PLE_ERR_POINTER, "numeric SIZE_MAX");
    a = valid(b); a.ca_len = SIZE_MAX; REFUSES(v, b, a, PLE_ERR_POINTER, "categories SIZE_MAX");
    a = valid(b); a.sc_len = SIZE_MAX / 2; REFUSES(v, b, a, PLE_ERR_POINTER, "scratch SIZE_MAX/2");
    a = valid(b); a.lo_len = SIZE_MAX / 4 + 1; REFUSES(v, b, a, PLE_ERR_POINTER, "logits huge");
    a = valid(b); a.pr_len = SIZE_MAX; REFUSES(v, b, a, PLE_ERR_POINTER, "probabilities huge");
    a = valid(b); a.ga_len = SIZE_MAX / 2 + 1; REFUSES(v, b, a, PLE_ERR_POINTER, "gates huge");

    /* Misaligned pointers (one byte in, one value shorter: still inside the buffer). */
#define ODD(p) ((void *)((unsigned char *)(p) + 1))
    a = valid(b); a.nu = ODD(b->numeric); a.nu_len = 1;
    REFUSES(v, b, a, PLE_ERR_POINTER, "numeric misaligned");
    a = valid(b); a.ca = ODD(b->categories); a.ca_len = 1;
    REFUSES(v, b, a, PLE_ERR_POINTER, "categories misaligned");
    a = valid(b); a.sc = ODD(b->scratch); a.sc_len--;
    REFUSES(v, b, a, PLE_ERR_POINTER, "scratch misaligned");
    a = valid(b); a.lo = ODD(b->logits - 1);
    REFUSES(v, b, a, PLE_ERR_POINTER, "logits misaligned");
    a = valid(b); a.pr = ODD(b->probabilities - 1);
    REFUSES(v, b, a, PLE_ERR_POINTER, "probabilities misaligned");
    a = valid(b); a.ga = ODD(b->gates - 1);
    REFUSES(v, b, a, PLE_ERR_POINTER, "gates misaligned");
#undef ODD

    /* Outputs overlapping each other, an input or a model array. */
    a = valid(b); a.lo = b->scratch + 3; REFUSES(v, b, a, PLE_ERR_OVERLAP, "logits in scratch");
    a = valid(b); a.pr = (uint16_t *)(void *)b->logits;
    REFUSES(v, b, a, PLE_ERR_OVERLAP, "probabilities over the logits");
    a = valid(b); a.ga = b->probabilities;
    REFUSES(v, b, a, PLE_ERR_OVERLAP, "gates over the probabilities");
    a = valid(b); a.nu = b->scratch + 5;
    REFUSES(v, b, a, PLE_ERR_OVERLAP, "numeric inputs inside the scratch");
    a = valid(b); a.pr = (uint16_t *)(void *)b->categories;
    REFUSES(v, b, a, PLE_ERR_OVERLAP, "probabilities over the categories");
    a = valid(b); a.pr = model_array; REFUSES(v, b, a, PLE_ERR_OVERLAP, "output in a model array");
    if (v.use_handle) {
        a = valid(b); a.ga = (uint16_t *)(void *)v.handle;
        REFUSES(v, b, a, PLE_ERR_OVERLAP, "gates over the handle");
    }

    /* Category indices outside their vocabularies (3 and 2 categories). */
    const uint16_t bad_categories[][2] = {{3, 0}, {0, 2}, {0xFFFEu, 0}, {0, 0x8000u}};
    for (size_t i = 0; i < sizeof bad_categories / sizeof bad_categories[0]; i++) {
        a = valid(b);
        memcpy(b->categories, bad_categories[i], sizeof bad_categories[i]);
        REFUSES(v, b, a, PLE_ERR_CATEGORY, "a category outside its vocabulary");
    }
    set_row(b);
}

/* Expects every entry point to refuse model `m` with `code`; `h` holds the good model and
 * must be cleared by the failed initialisation. */
static void refused_model(const ple_model_int8 *m, int32_t code, const char *what, buffers *b,
                          ple_int8_handle *h) {
    expect_code(ple_validate_int8(m), code, what, __LINE__);
    EXPECT(ple_int8_scratch_len(m) == 0 && ple_int8_gates_len(m) == 0,
           "sizes of a refused model are 0");
    via direct = {m, NULL, 0}, through = {NULL, h, 1};
    set_row(b);
    args a = valid(b);
    expect_code(call(direct, a), code, what, __LINE__);
    EXPECT(untouched(b), "outputs untouched after a refused model");
    expect_code(ple_int8_handle_init(m, h), code, what, __LINE__);
    a = valid(b);
    expect_code(call(through, a), PLE_ERR_HANDLE, "the handle of a failed init", __LINE__);
    EXPECT(untouched(b), "outputs untouched after a cleared handle");
}

#define BAD_MODEL(change, code)                                               \
    do {                                                                      \
        ple_model_int8 m_ = *good;                                            \
        expect_code(ple_int8_handle_init(good, h), PLE_OK, "init", __LINE__); \
        change;                                                               \
        refused_model(&m_, code, #change, b, h);                              \
    } while (0)

/* An entry made bad in place, checked, then restored. */
#define BAD_ENTRY(lvalue, value, code)                                        \
    do {                                                                      \
        __typeof__(lvalue) saved_ = (lvalue);                                 \
        expect_code(ple_int8_handle_init(good, h), PLE_OK, "init", __LINE__); \
        (lvalue) = (value);                                                   \
        refused_model(good, code, #lvalue " = " #value, b, h);                \
        (lvalue) = saved_;                                                    \
    } while (0)

/* An entry at the edge of its bound, which is valid. */
#define EDGE_ENTRY(lvalue, value)                                             \
    do {                                                                      \
        __typeof__(lvalue) saved_ = (lvalue);                                 \
        (lvalue) = (value);                                                   \
        expect_code(ple_validate_int8(good), PLE_OK, #lvalue " = " #value, __LINE__); \
        (lvalue) = saved_;                                                    \
    } while (0)

static void models(const ple_model_int8 *good, arrays *ar, buffers *b, ple_int8_handle *h) {
    static const uint32_t zero_units[2] = {4, 0};
    static const uint32_t huge_units[2] = {UINT32_MAX, UINT32_MAX};
    static const uint16_t zero_vocab[2] = {0, 5};
    static const uint16_t unknown_vocab[2] = {PLE_UNKNOWN_CATEGORY, 2};

    expect_code(ple_validate_int8(good), PLE_OK, "the good model", __LINE__);
    EXPECT(ple_int8_gates_len(good) == GATES, "ple_int8_gates_len");
    EXPECT(ple_int8_scratch_len(good) == b->scratch_len && b->scratch_len > TASKS,
           "ple_int8_scratch_len");
    expect_code(ple_validate_int8(NULL), PLE_ERR_NULL, "NULL model", __LINE__);
    EXPECT(ple_int8_scratch_len(NULL) == 0 && ple_int8_gates_len(NULL) == 0, "sizes of NULL");
    static unsigned char raw[sizeof(ple_model_int8) + 16];
    const ple_model_int8 *odd = (const ple_model_int8 *)(void *)(raw + 1);
    memcpy(raw + 1, good, sizeof *good);
    expect_code(ple_validate_int8(odd), PLE_ERR_POINTER, "misaligned model", __LINE__);
    expect_code(ple_int8_handle_init(odd, h), PLE_ERR_POINTER, "misaligned model", __LINE__);

    /* The shape. */
    BAD_MODEL(m_.shape.input_dim++, PLE_ERR_INPUT_LAYOUT);
    BAD_MODEL(m_.shape.input_dim = UINT32_MAX, PLE_ERR_SHAPE); /* its sizes overflow */
    BAD_MODEL(m_.shape.tasks = 0, PLE_ERR_SHAPE);
    BAD_MODEL(m_.shape.tasks = UINT32_MAX, PLE_ERR_SHAPE);
    BAD_MODEL(m_.shape.experts_per_task = 0; m_.shape.shared_experts = 0, PLE_ERR_SHAPE);
    BAD_MODEL(m_.shape.experts_per_task = 2, PLE_ERR_WEIGHTS_LENGTH);
    BAD_MODEL(m_.shape.shared_experts = 0, PLE_ERR_WEIGHTS_LENGTH);
    BAD_MODEL(m_.shape.shared_experts = UINT32_MAX, PLE_ERR_SHAPE);
    BAD_MODEL(m_.shape.levels = 0, PLE_ERR_SHAPE);
    BAD_MODEL(m_.shape.levels = 3, PLE_ERR_WEIGHTS_LENGTH);
    BAD_MODEL(m_.shape.expert_units = NULL, PLE_ERR_NULL);
    BAD_MODEL(m_.shape.expert_units = (const uint32_t *)(void *)((unsigned char *)ar->expert_units - 2),
              PLE_ERR_POINTER);
    BAD_MODEL(m_.shape.expert_units = zero_units, PLE_ERR_SHAPE);
    BAD_MODEL(m_.shape.expert_units = huge_units, PLE_ERR_SHAPE);
    BAD_MODEL(m_.shape.expert_layers = 0, PLE_ERR_SHAPE);
    BAD_MODEL(m_.shape.expert_layers = 1, PLE_ERR_WEIGHTS_LENGTH);
    BAD_MODEL(m_.shape.tower_units = NULL, PLE_ERR_NULL);
    BAD_MODEL(m_.shape.tower_layers = 0, PLE_ERR_WEIGHTS_LENGTH);
    /* The layout. */
    BAD_MODEL(m_.layout.numeric = 3, PLE_ERR_INPUT_LAYOUT);
    BAD_MODEL(m_.layout.numeric = UINT32_MAX, PLE_ERR_INPUT_LAYOUT);
    BAD_MODEL(m_.layout.vocab_sizes = NULL, PLE_ERR_NULL);
    BAD_MODEL(m_.layout.vocab_sizes = (const uint16_t *)(void *)((unsigned char *)ar->vocab - 1),
              PLE_ERR_POINTER);
    BAD_MODEL(m_.layout.vocab_sizes = zero_vocab, PLE_ERR_INPUT_LAYOUT);
    BAD_MODEL(m_.layout.vocab_sizes = unknown_vocab, PLE_ERR_INPUT_LAYOUT);
    BAD_MODEL(m_.layout.fields = 1, PLE_ERR_INPUT_LAYOUT);
    BAD_MODEL(m_.layout.fields = 0, PLE_ERR_INPUT_LAYOUT);
    /* Every array: NULL, misaligned (if it can be), a value short or too many (the spare
     * value before it, valid: ple-core checks the prescales before their count), none, and a
     * length too large to address. */
#define ARRAY(ptr, len, type)                                                 \
    BAD_MODEL(m_.ptr = NULL, PLE_ERR_NULL);                                   \
    BAD_MODEL(m_.len--, PLE_ERR_WEIGHTS_LENGTH);                              \
    BAD_MODEL(m_.ptr--; m_.len++, PLE_ERR_WEIGHTS_LENGTH);                    \
    BAD_MODEL(m_.len = 0, PLE_ERR_WEIGHTS_LENGTH);                            \
    BAD_MODEL(m_.len = SIZE_MAX, PLE_ERR_POINTER);                            \
    BAD_MODEL(m_.len = SIZE_MAX / 2 / sizeof(type) + 1, PLE_ERR_POINTER);     \
    if (sizeof(type) > 1) {                                                   \
        BAD_MODEL(m_.ptr = (const type *)(const void *)((const unsigned char *)m_.ptr - 1), \
                  PLE_ERR_POINTER);                                           \
    }
    ARRAY(numeric_prescale, numeric_prescale_len, ple_requant)
    ARRAY(category_weights, category_weights_len, int8_t)
    ARRAY(numeric_weights, numeric_weights_len, int16_t)
    ARRAY(sparse_outputs, sparse_outputs_len, ple_sparse_output)
    ARRAY(dense_weights, dense_weights_len, int8_t)
    ARRAY(dense_bias, dense_bias_len, int32_t)
    ARRAY(dense_requant, dense_requant_len, ple_requant)
    ARRAY(mix_ratios, mix_ratios_len, uint16_t)
#undef ARRAY

    /* Entries outside the bounds that prove the arithmetic exact, and at their edges. */
    BAD_ENTRY(ar->prescale[1].multiplier, (1 << 30) - 1, PLE_ERR_RANGE);
    BAD_ENTRY(ar->prescale[0].multiplier, -5, PLE_ERR_RANGE);
    BAD_ENTRY(ar->prescale[0].right_shift, 0, PLE_ERR_RANGE);
    BAD_ENTRY(ar->prescale[1].right_shift, 64, PLE_ERR_RANGE);
    EDGE_ENTRY(ar->prescale[0].multiplier, 0);
    EDGE_ENTRY(ar->prescale[0].multiplier, INT32_MAX);
    EDGE_ENTRY(ar->prescale[0].right_shift, 63);
    BAD_ENTRY(ar->outputs[18].multiplier, 1, PLE_ERR_RANGE);
    BAD_ENTRY(ar->outputs[0].right_shift, 0, PLE_ERR_RANGE);
    BAD_ENTRY(ar->outputs[5].right_shift, 255, PLE_ERR_RANGE);
    /* 2 fields x 128 << shift must stay within 2^28. */
    BAD_ENTRY(ar->outputs[7].category_shift, 21, PLE_ERR_RANGE);
    BAD_ENTRY(ar->outputs[7].category_shift, 255, PLE_ERR_RANGE);
    EDGE_ENTRY(ar->outputs[7].category_shift, 20);
    BAD_ENTRY(ar->outputs[3].bias, (1 << 29) + 1, PLE_ERR_RANGE);
    BAD_ENTRY(ar->outputs[3].bias, INT32_MIN, PLE_ERR_RANGE);
    EDGE_ENTRY(ar->outputs[3].bias, -(1 << 29));
    /* A row of numeric weights may sum (in absolute value) to 2^15. */
    BAD_ENTRY(ar->numeric_w[36], 32767, PLE_ERR_RANGE);
    BAD_ENTRY(ar->numeric_w[0], INT16_MIN, PLE_ERR_RANGE);
    EDGE_ENTRY(ar->numeric_w[1], (int16_t)(32768 - (ar->numeric_w[0] < 0 ? -ar->numeric_w[0]
                                                                       : ar->numeric_w[0])));
    BAD_ENTRY(ar->dense_requant[39].multiplier, 12345, PLE_ERR_RANGE);
    BAD_ENTRY(ar->dense_requant[0].right_shift, 0, PLE_ERR_RANGE);
    BAD_ENTRY(ar->mix[10], 32769, PLE_ERR_RANGE);
    BAD_ENTRY(ar->mix[0], UINT16_MAX, PLE_ERR_RANGE);
    EDGE_ENTRY(ar->mix[1], 32768);
    EDGE_ENTRY(ar->mix[1], 0);
    EDGE_ENTRY(ar->dense_bias[0], INT32_MIN);
    EDGE_ENTRY(ar->category[0], INT8_MIN);
}

/* Handles that ple_int8_handle_init did not fill successfully. */
static void handles(const ple_model_int8 *good, arrays *ar, buffers *b, ple_int8_handle *h) {
    via through = {NULL, h, 1};
    args a;
    set_row(b);
    expect_code(ple_int8_handle_init(good, h), PLE_OK, "init", __LINE__);
    a = valid(b);
    expect_code(call(through, a), PLE_OK, "a filled handle", __LINE__);
    int32_t expected[TASKS] = {b->logits[0], b->logits[1]};

    /* A byte-for-byte copy works, wherever it lives. */
    ple_int8_handle copy;
    memcpy(&copy, h, sizeof copy);
    via on_stack = {NULL, &copy, 1};
    a = valid(b);
    expect_code(call(on_stack, a), PLE_OK, "a copied handle", __LINE__);
    EXPECT(b->logits[0] == expected[0] && b->logits[1] == expected[1], "the copy agrees");

    /* NULL, misaligned, zeroed and garbage handles. */
    expect_code(ple_int8_handle_init(good, NULL), PLE_ERR_NULL, "init into NULL", __LINE__);
    via none = {NULL, NULL, 1};
    a = valid(b); REFUSES(none, b, a, PLE_ERR_NULL, "a NULL handle");
    unsigned char *room = guarded(sizeof(ple_int8_handle) + 8); /* ends 8-aligned */
    memset(room, 0x33, sizeof(ple_int8_handle) + 8);
    ple_int8_handle *odd = (ple_int8_handle *)(void *)(room + 1);
    expect_code(ple_int8_handle_init(good, odd), PLE_ERR_POINTER, "init misaligned", __LINE__);
    EXPECT(room[1] == 0x33 && room[sizeof(ple_int8_handle)] == 0x33,
           "a misaligned handle is not written");
    via misaligned = {NULL, odd, 1};
    a = valid(b); REFUSES(misaligned, b, a, PLE_ERR_POINTER, "a misaligned handle");
    ple_int8_handle zero;
    memset(&zero, 0, sizeof zero);
    via zeroed = {NULL, &zero, 1};
    a = valid(b); REFUSES(zeroed, b, a, PLE_ERR_HANDLE, "a zeroed handle");
    memset(&copy, 0xA5, sizeof copy);
    a = valid(b); REFUSES(on_stack, b, a, PLE_ERR_HANDLE, "a garbage handle");

    /* Every single-bit change anywhere in a filled handle. */
    unsigned flips = 0, refused = 0;
    for (size_t byte = 0; byte < sizeof copy; byte++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(&copy, h, sizeof copy);
            ((unsigned char *)&copy)[byte] ^= (unsigned char)(1u << bit);
            a = valid(b);
            refused += call(on_stack, a) == PLE_ERR_HANDLE && untouched(b);
            flips++;
        }
    }
    EXPECT(flips == 8 * sizeof copy && refused == flips, "every flipped bit is refused");
    if (refused != flips) {
        printf("  %u of %u flips refused\n", refused, flips);
    }

    /* A model struct at NULL clears the handle; so does a refused one. */
    memcpy(&copy, h, sizeof copy);
    expect_code(ple_int8_handle_init(NULL, &copy), PLE_ERR_NULL, "init from NULL", __LINE__);
    EXPECT(memcmp(&copy, &zero, sizeof zero) == 0, "init from NULL clears the handle");

    /* A handle inside a model array is refused and leaves the array as it was. */
    size_t words = DENSE_OUT + sizeof(ple_int8_handle) / sizeof(int32_t);
    int32_t *bias = guarded(words * sizeof(int32_t));
    memcpy(bias, ar->dense_bias, DENSE_OUT * sizeof(int32_t));
    ple_model_int8 inside = *good;
    inside.dense_bias = bias;
    expect_code(ple_int8_handle_init(&inside, h), PLE_OK, "init with the copied biases",
                __LINE__);
    expect_code(ple_int8_handle_init(&inside, (ple_int8_handle *)(void *)(bias + 2)),
                PLE_ERR_OVERLAP, "a handle inside the biases", __LINE__);
    EXPECT(memcmp(bias, ar->dense_bias, DENSE_OUT * sizeof(int32_t)) == 0,
           "the biases are untouched");

    /* Stale: the shape or vocabulary arrays changed after init (and back). */
    expect_code(ple_int8_handle_init(good, h), PLE_OK, "init", __LINE__);
    ar->vocab[0] = 2;
    ar->vocab[1] = 3;
    a = valid(b); REFUSES(through, b, a, PLE_ERR_HANDLE, "vocabulary sizes changed");
    ar->vocab[0] = 3;
    ar->vocab[1] = 2;
    a = valid(b);
    expect_code(call(through, a), PLE_OK, "vocabulary sizes restored", __LINE__);
    ar->expert_units[1] = 2;
    a = valid(b); REFUSES(through, b, a, PLE_ERR_HANDLE, "expert widths changed");
    ar->expert_units[1] = 3;
    ar->tower_units[0] = 3;
    a = valid(b); REFUSES(through, b, a, PLE_ERR_HANDLE, "tower widths changed");
    ar->tower_units[0] = 2;

    /* An entry changed in place is what a handle does not check again: the result may be
     * wrong, but the call stays inside every buffer (the guard pages and ASan say so). */
    ar->mix[0] = UINT16_MAX;
    ar->outputs[0].category_shift = 31;
    ar->outputs[1].right_shift = 0;
    ar->dense_requant[0].right_shift = 255;
    ar->numeric_w[0] = INT16_MIN;
    ar->numeric_w[1] = INT16_MIN;
    a = valid(b);
    b->numeric[0] = INT32_MAX;
    expect_code(call(through, a), PLE_OK, "entries changed under a handle", __LINE__);
    expect_code(ple_validate_int8(good), PLE_ERR_RANGE, "the changed entries", __LINE__);
}

void abuse_int8(void) {
    unsigned before = checks;
    arrays ar = make_arrays();
    ple_model_int8 good = model_of(&ar);
    buffers b;
    b.scratch_len = ple_int8_scratch_len(&good);
    b.numeric = spare_before(NUMERIC, sizeof(int32_t));
    b.categories = spare_before(FIELDS, sizeof(uint16_t));
    b.scratch = spare_before(b.scratch_len, sizeof(int32_t));
    b.logits = spare_before(TASKS, sizeof(int32_t));
    b.probabilities = spare_before(TASKS, sizeof(uint16_t));
    b.gates = spare_before(GATES, sizeof(uint16_t));
    ple_int8_handle *h = guarded(sizeof(ple_int8_handle));

    expect_code(ple_int8_handle_init(&good, h), PLE_OK, "init", __LINE__);
    int32_t reference[2 * TASKS];
    via direct = {&good, NULL, 0}, through = {NULL, h, 1};
    predictions(direct, &b, ar.mix, reference);
    predictions(through, &b, ar.mix, reference);
    models(&good, &ar, &b, h);
    handles(&good, &ar, &b, h);
    printf("int8 checks=%u\n", checks - before);
}
