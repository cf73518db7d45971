/*
 * abuse.c: every entry point of ple_core.h called with hostile arguments (null pointers,
 * short buffers, zero and huge lengths, misaligned pointers, overlapping outputs,
 * out-of-range categories, NaN and infinite inputs, model structs whose sizes disagree,
 * standardisation tables missing, misplaced or holding bad values),
 * each checked against its documented status code, and the valid calls checked too.
 *
 * Every buffer the library may read or write is allocated with exactly the length passed
 * and ends at an inaccessible page, so that a read or write past the end faults even in
 * the (uninstrumented) Rust code; the C side runs under AddressSanitizer and UBSan.
 * After a rejected call the probabilities must be untouched (arguments are checked before
 * any memory is written).
 *
 * The int8 entry points are abused in abuse_int8.c, called from here.
 *
 * Prints one line per failed check and, at the end, "checks=N" and "failures=F".
 */
#define _DEFAULT_SOURCE /* mmap, mprotect and sysconf under -std=c99 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "abuse.h"

unsigned checks;
unsigned failures;

void *guarded(size_t bytes) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t pages = (bytes + page - 1) / page + 1;
    unsigned char *base = mmap(NULL, pages * page, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) {
        perror("mmap");
        _exit(3);
    }
    if (mprotect(base + (pages - 1) * page, page, PROT_NONE) != 0) {
        perror("mprotect");
        _exit(3);
    }
    return base + (pages - 1) * page - bytes;
}

/* The network: 2 numeric columns and fields of 3 and 2 categories (7 inputs), 2 tasks,
 * 1 expert per task and 1 shared, 2 levels, experts 4-3, towers 2. */
static const uint32_t EXPERT_UNITS[2] = {4, 3};
static const uint32_t TOWER_UNITS[1] = {2};
static const uint16_t VOCAB[2] = {3, 2};
enum { NUMERIC = 2, FIELDS = 2, INPUT_DIM = 7, TASKS = 2 };

static ple_shape good_shape(void) {
    ple_shape s = {INPUT_DIM, TASKS, 1, 1, 2, EXPERT_UNITS, 2, TOWER_UNITS, 1};
    return s;
}

static ple_input_layout good_layout(void) {
    ple_input_layout l = {NUMERIC, VOCAB, FIELDS};
    return l;
}

static const float SENTINEL = -7.0f;

static int untouched(const float *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (p[i] != SENTINEL) {
            return 0;
        }
    }
    return 1;
}

static void fill(float *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        p[i] = SENTINEL;
    }
}

static void sizes(void) {
    ple_shape s = good_shape();
    EXPECT(ple_scratch_len(&s) > 0, "scratch_len of a valid shape");
    EXPECT(ple_gates_len(&s) > 0, "gates_len of a valid shape");
    EXPECT(ple_packed_len(&s) > 0, "packed_len of a valid shape");
    EXPECT(ple_scratch_len(NULL) == 0, "scratch_len(NULL)");
    EXPECT(ple_gates_len(NULL) == 0, "gates_len(NULL)");
    EXPECT(ple_packed_len(NULL) == 0, "packed_len(NULL)");

    ple_shape bad[8];
    for (int i = 0; i < 8; i++) {
        bad[i] = s;
    }
    bad[0].tasks = 0;
    bad[1].levels = 0;
    bad[2].input_dim = 0;
    bad[3].tasks = UINT32_MAX;                 /* products would overflow */
    bad[4].expert_units = NULL;                /* with 2 layers */
    bad[5].expert_layers = 0;
    bad[6].experts_per_task = 0;
    bad[6].shared_experts = 0;
    bad[7].input_dim = UINT32_MAX;
    for (int i = 0; i < 8; i++) {
        EXPECT(ple_scratch_len(&bad[i]) == 0, "scratch_len of an invalid shape");
        EXPECT(ple_gates_len(&bad[i]) == 0, "gates_len of an invalid shape");
        EXPECT(ple_packed_len(&bad[i]) == 0, "packed_len of an invalid shape");
    }
    /* Widths at the extreme: 0 is invalid; huge widths must not wrap to a small size. */
    static const uint32_t zero_units[2] = {4, 0};
    static const uint32_t huge_units[2] = {UINT32_MAX, UINT32_MAX};
    ple_shape zero = s, huge = s;
    zero.expert_units = zero_units;
    huge.expert_units = huge_units;
    EXPECT(ple_packed_len(&zero) == 0, "packed_len with a zero-width layer");
    EXPECT(ple_packed_len(&huge) == 0, "packed_len with 2^32-1 wide layers");
    EXPECT(ple_scratch_len(&huge) == 0, "scratch_len with 2^32-1 wide layers");
}

/* Every documented code has its own non-empty message, other codes a common one. */
static void error_messages(void) {
    enum { DOCUMENTED = 17 }; /* PLE_OK down to PLE_ERR_HANDLE (-16) */
    const char *unknown = ple_error_message(1);
    EXPECT(unknown != NULL && unknown[0] != '\0', "unknown codes have a message");
    const int32_t undocumented[] = {1, -(int32_t)DOCUMENTED, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof undocumented / sizeof undocumented[0]; i++) {
        const char *m = ple_error_message(undocumented[i]);
        EXPECT(m != NULL && unknown != NULL && strcmp(m, unknown) == 0,
               "an undocumented code gets the common message");
    }
    for (int32_t code = 0; code > -DOCUMENTED; code--) {
        const char *m = ple_error_message(code);
        EXPECT(m != NULL && m[0] != '\0' && strcmp(m, unknown) != 0,
               "each documented code has its own message");
        for (int32_t other = code - 1; other > -DOCUMENTED && m != NULL; other--) {
            const char *n = ple_error_message(other);
            EXPECT(n != NULL && strcmp(m, n) != 0, "two codes share a message");
        }
    }
}

/* The model structs: valid, then each field made inconsistent. */
static void validation(const ple_model_f32 *good, const ple_model_f16 *good16) {
    EXPECT_CODE(ple_validate_f32(good), PLE_OK);
    EXPECT_CODE(ple_validate_f16(good16), PLE_OK);
    EXPECT_CODE(ple_validate_f32(NULL), PLE_ERR_NULL);
    EXPECT_CODE(ple_validate_f16(NULL), PLE_ERR_NULL);

    ple_model_f32 m;
    m = *good; m.shape.tasks = 0;
    EXPECT_CODE(ple_validate_f32(&m), PLE_ERR_SHAPE);
    m = *good; m.shape.tasks = UINT32_MAX;
    EXPECT_CODE(ple_validate_f32(&m), PLE_ERR_SHAPE);
    m = *good; m.shape.levels = 0;
    EXPECT_CODE(ple_validate_f32(&m), PLE_ERR_SHAPE);
    m = *good; m.shape.expert_layers = 0;
    EXPECT_CODE(ple_validate_f32(&m), PLE_ERR_SHAPE);
    m = *good; m.shape.expert_units = NULL;
    EXPECT_CODE(ple_validate_f32(&m), PLE_ERR_NULL);
    m = *good; m.shape.tower_units = NULL; /* with one tower layer */
    EXPECT_CODE(ple_validate_f32(&m), PLE_ERR_NULL);
    m = *good; m.shape.input_dim = INPUT_DIM + 1;
    EXPECT_CODE(ple_validate_f32(&m), PLE_ERR_INPUT_LAYOUT);
    m = *good; m.layout.numeric = NUMERIC + 1;
    EXPECT_CODE(ple_validate_f32(&m), PLE_ERR_INPUT_LAYOUT);
    m = *good; m.layout.fields = 1;
    EXPECT_CODE(ple_validate_f32(&m), PLE_ERR_INPUT_LAYOUT);
    m = *good; m.layout.vocab_sizes = NULL;
    EXPECT_CODE(ple_validate_f32(&m), PLE_ERR_NULL);
    static const uint16_t zero_vocab[2] = {0, 7};
    m = *good; m.layout.vocab_sizes = zero_vocab; /* widths still add up to 7 */
    EXPECT_CODE(ple_validate_f32(&m), PLE_ERR_INPUT_LAYOUT);
    static const uint16_t unknown_vocab[2] = {PLE_UNKNOWN_CATEGORY, 2};
    m = *good; m.layout.vocab_sizes = unknown_vocab;
    EXPECT_CODE(ple_validate_f32(&m), PLE_ERR_INPUT_LAYOUT);
    m = *good; m.weights_len = good->weights_len - 1;
    EXPECT_CODE(ple_validate_f32(&m), PLE_ERR_WEIGHTS_LENGTH);
    m = *good; m.weights_len = good->weights_len + 1; /* never read: the count is wrong */
    EXPECT_CODE(ple_validate_f32(&m), PLE_ERR_WEIGHTS_LENGTH);
    m = *good; m.weights_len = 0;
    EXPECT_CODE(ple_validate_f32(&m), PLE_ERR_WEIGHTS_LENGTH);
    m = *good; m.weights = NULL;
    EXPECT_CODE(ple_validate_f32(&m), PLE_ERR_NULL);
    m = *good; m.weights_len = SIZE_MAX;
    EXPECT_CODE(ple_validate_f32(&m), PLE_ERR_POINTER);
    m = *good; m.weights = (const float *)((const unsigned char *)good->weights + 1);
    EXPECT_CODE(ple_validate_f32(&m), PLE_ERR_POINTER);

    ple_model_f16 h;
    h = *good16; h.weights_len = good16->weights_len - 1;
    EXPECT_CODE(ple_validate_f16(&h), PLE_ERR_WEIGHTS_LENGTH);
    h = *good16; h.weights = NULL;
    EXPECT_CODE(ple_validate_f16(&h), PLE_ERR_NULL);
    h = *good16; h.shape.shared_experts = 0; h.shape.experts_per_task = 0;
    EXPECT_CODE(ple_validate_f16(&h), PLE_ERR_SHAPE);
    h = *good16; h.weights = (const uint16_t *)((const unsigned char *)good16->weights + 1);
    EXPECT_CODE(ple_validate_f16(&h), PLE_ERR_POINTER);

    /* A model struct at a misaligned address, copied byte for byte. */
    static unsigned char raw[sizeof(ple_model_f32) + 8];
    memcpy(raw + 1, good, sizeof *good);
    EXPECT_CODE(ple_validate_f32((const ple_model_f32 *)(void *)(raw + 1)), PLE_ERR_POINTER);
}

/* The buffers of one prediction, each exactly as long as its length. */
typedef struct {
    float *dense, *numeric, *scratch, *probabilities, *gates;
    uint16_t *categories;
    size_t scratch_len, gates_len;
} buffers;

static buffers make_buffers(const ple_shape *s) {
    buffers b;
    b.scratch_len = ple_scratch_len(s);
    b.gates_len = ple_gates_len(s);
    b.dense = guarded(INPUT_DIM * sizeof(float));
    b.numeric = guarded(NUMERIC * sizeof(float));
    b.categories = guarded(FIELDS * sizeof(uint16_t));
    b.scratch = guarded(b.scratch_len * sizeof(float));
    b.probabilities = guarded(TASKS * sizeof(float));
    b.gates = guarded(b.gates_len * sizeof(float));
    return b;
}

/* A row in both forms: numeric (0.5, -1.25), categories (2, 1). */
static void set_row(buffers *b) {
    const float dense[INPUT_DIM] = {0.5f, -1.25f, 0, 0, 1, 0, 1};
    memcpy(b->dense, dense, sizeof dense);
    b->numeric[0] = 0.5f;
    b->numeric[1] = -1.25f;
    b->categories[0] = 2;
    b->categories[1] = 1;
}

#define DENSE(m, in, in_len, sc, sc_len, pr, pr_len, ga, ga_len) \
    ple_predict_dense_f32(m, in, in_len, sc, sc_len, pr, pr_len, ga, ga_len)
#define SPARSE(m, nu, nu_len, ca, ca_len, sc, sc_len, pr, pr_len, ga, ga_len) \
    ple_predict_sparse_f32(m, nu, nu_len, ca, ca_len, sc, sc_len, pr, pr_len, ga, ga_len)

/* Expects `call` to fail with `code` and leave the probabilities untouched. */
#define REJECTS(b, call, code)                                                \
    do {                                                                      \
        fill((b)->probabilities, TASKS);                                      \
        EXPECT_CODE(call, code);                                              \
        EXPECT(untouched((b)->probabilities, TASKS),                          \
               "probabilities untouched after " #code);                       \
    } while (0)

static void predictions_f32(const ple_model_f32 *m, buffers *b) {
    float p_dense[TASKS], p_sparse[TASKS];
    set_row(b);

    /* Valid calls: dense and sparse agree bit for bit, with and without gates. */
    EXPECT_CODE(DENSE(m, b->dense, INPUT_DIM, b->scratch, b->scratch_len, b->probabilities,
                      TASKS, b->gates, b->gates_len), PLE_OK);
    memcpy(p_dense, b->probabilities, sizeof p_dense);
    EXPECT_CODE(SPARSE(m, b->numeric, NUMERIC, b->categories, FIELDS, b->scratch,
                       b->scratch_len, b->probabilities, TASKS, NULL, 0), PLE_OK);
    memcpy(p_sparse, b->probabilities, sizeof p_sparse);
    EXPECT(memcmp(p_dense, p_sparse, sizeof p_dense) == 0, "dense and sparse agree");
    for (int t = 0; t < TASKS; t++) {
        EXPECT(p_dense[t] > 0.0f && p_dense[t] < 1.0f, "a probability is in (0, 1)");
    }
    int gates_ok = 1;
    for (size_t g = 0; g < b->gates_len; g++) {
        gates_ok &= b->gates[g] >= 0.0f && b->gates[g] <= 1.0f;
    }
    EXPECT(gates_ok, "gate weights are in [0, 1]");
    /* Unknown category: an all-zero block, the same as a dense row with zeros there. */
    b->categories[0] = PLE_UNKNOWN_CATEGORY;
    EXPECT_CODE(SPARSE(m, b->numeric, NUMERIC, b->categories, FIELDS, b->scratch,
                       b->scratch_len, b->probabilities, TASKS, NULL, 0), PLE_OK);
    memcpy(p_sparse, b->probabilities, sizeof p_sparse);
    b->dense[4] = 0.0f;
    EXPECT_CODE(DENSE(m, b->dense, INPUT_DIM, b->scratch, b->scratch_len, b->probabilities,
                      TASKS, NULL, 0), PLE_OK);
    EXPECT(memcmp(b->probabilities, p_sparse, sizeof p_sparse) == 0,
           "the unknown category is the all-zero block");
    set_row(b);

    /* Null pointers with non-zero lengths. */
    REJECTS(b, DENSE(NULL, b->dense, INPUT_DIM, b->scratch, b->scratch_len, b->probabilities,
                     TASKS, NULL, 0), PLE_ERR_NULL);
    REJECTS(b, DENSE(m, NULL, INPUT_DIM, b->scratch, b->scratch_len, b->probabilities, TASKS,
                     NULL, 0), PLE_ERR_NULL);
    REJECTS(b, DENSE(m, b->dense, INPUT_DIM, NULL, b->scratch_len, b->probabilities, TASKS,
                     NULL, 0), PLE_ERR_NULL);
    EXPECT_CODE(DENSE(m, b->dense, INPUT_DIM, b->scratch, b->scratch_len, NULL, TASKS, NULL, 0),
                PLE_ERR_NULL);
    REJECTS(b, DENSE(m, b->dense, INPUT_DIM, b->scratch, b->scratch_len, b->probabilities,
                     TASKS, NULL, b->gates_len), PLE_ERR_NULL);
    REJECTS(b, SPARSE(m, NULL, NUMERIC, b->categories, FIELDS, b->scratch, b->scratch_len,
                      b->probabilities, TASKS, NULL, 0), PLE_ERR_NULL);
    REJECTS(b, SPARSE(m, b->numeric, NUMERIC, NULL, FIELDS, b->scratch, b->scratch_len,
                      b->probabilities, TASKS, NULL, 0), PLE_ERR_NULL);

    /* Zero lengths (NULL allowed with them) where values are needed. */
    REJECTS(b, DENSE(m, NULL, 0, b->scratch, b->scratch_len, b->probabilities, TASKS, NULL, 0),
            PLE_ERR_INPUT_LENGTH);
    REJECTS(b, DENSE(m, b->dense, INPUT_DIM, NULL, 0, b->probabilities, TASKS, NULL, 0),
            PLE_ERR_SCRATCH_LENGTH);
    EXPECT_CODE(DENSE(m, b->dense, INPUT_DIM, b->scratch, b->scratch_len, NULL, 0, NULL, 0),
                PLE_ERR_OUTPUT_LENGTH);
    REJECTS(b, SPARSE(m, b->numeric, NUMERIC, NULL, 0, b->scratch, b->scratch_len,
                      b->probabilities, TASKS, NULL, 0), PLE_ERR_INPUT_LENGTH);
    /* A gates pointer with length 0 asks for gates into no room. */
    REJECTS(b, DENSE(m, b->dense, INPUT_DIM, b->scratch, b->scratch_len, b->probabilities,
                     TASKS, b->gates, 0), PLE_ERR_GATES_LENGTH);

    /* Short (and long) buffers, each of the exact length passed. */
    REJECTS(b, DENSE(m, b->dense, INPUT_DIM - 1, b->scratch, b->scratch_len, b->probabilities,
                     TASKS, NULL, 0), PLE_ERR_INPUT_LENGTH);
    REJECTS(b, DENSE(m, b->dense, INPUT_DIM, b->scratch, b->scratch_len - 1, b->probabilities,
                     TASKS, NULL, 0), PLE_ERR_SCRATCH_LENGTH);
    REJECTS(b, DENSE(m, b->dense, INPUT_DIM, b->scratch, b->scratch_len, b->probabilities,
                     TASKS - 1, NULL, 0), PLE_ERR_OUTPUT_LENGTH);
    REJECTS(b, DENSE(m, b->dense, INPUT_DIM, b->scratch, b->scratch_len, b->probabilities,
                     TASKS, b->gates, b->gates_len - 1), PLE_ERR_GATES_LENGTH);
    REJECTS(b, SPARSE(m, b->numeric, NUMERIC - 1, b->categories, FIELDS, b->scratch,
                      b->scratch_len, b->probabilities, TASKS, NULL, 0), PLE_ERR_INPUT_LENGTH);
    REJECTS(b, SPARSE(m, b->numeric, NUMERIC, b->categories, FIELDS - 1, b->scratch,
                      b->scratch_len, b->probabilities, TASKS, NULL, 0), PLE_ERR_INPUT_LENGTH);

    /* Huge lengths: rejected from the length alone, the memory is never reached. */
    REJECTS(b, DENSE(m, b->dense, SIZE_MAX, b->scratch, b->scratch_len, b->probabilities,
                     TASKS, NULL, 0), PLE_ERR_POINTER);
    REJECTS(b, DENSE(m, b->dense, INPUT_DIM, b->scratch, SIZE_MAX / 2, b->probabilities, TASKS,
                     NULL, 0), PLE_ERR_POINTER);
    REJECTS(b, SPARSE(m, b->numeric, NUMERIC, b->categories, SIZE_MAX, b->scratch,
                      b->scratch_len, b->probabilities, TASKS, NULL, 0), PLE_ERR_POINTER);
    REJECTS(b, DENSE(m, b->dense, INPUT_DIM, b->scratch, b->scratch_len, b->probabilities,
                     TASKS, b->gates, SIZE_MAX / 4 + 1), PLE_ERR_POINTER);

    /* Misaligned pointers. */
    float *odd_input = (float *)(void *)((unsigned char *)b->dense + 1);
    REJECTS(b, DENSE(m, odd_input, INPUT_DIM - 1, b->scratch, b->scratch_len, b->probabilities,
                     TASKS, NULL, 0), PLE_ERR_POINTER);
    uint16_t *odd_categories = (uint16_t *)(void *)((unsigned char *)b->categories + 1);
    REJECTS(b, SPARSE(m, b->numeric, NUMERIC, odd_categories, FIELDS - 1, b->scratch,
                      b->scratch_len, b->probabilities, TASKS, NULL, 0), PLE_ERR_POINTER);

    /* Outputs overlapping each other or an input. */
    REJECTS(b, DENSE(m, b->dense, INPUT_DIM, b->scratch, b->scratch_len, b->scratch, TASKS,
                     NULL, 0), PLE_ERR_OVERLAP);
    REJECTS(b, DENSE(m, b->scratch, INPUT_DIM, b->scratch, b->scratch_len, b->probabilities,
                     TASKS, NULL, 0), PLE_ERR_OVERLAP);
    REJECTS(b, DENSE(m, b->dense, INPUT_DIM, b->scratch, b->scratch_len, b->probabilities,
                     TASKS, b->scratch + 1, b->gates_len), PLE_ERR_OVERLAP);
    EXPECT_CODE(DENSE(m, b->dense, INPUT_DIM, b->scratch, b->scratch_len,
                      (float *)m->weights, TASKS, NULL, 0), PLE_ERR_OVERLAP);
    REJECTS(b, SPARSE(m, b->numeric, NUMERIC, (uint16_t *)(void *)b->probabilities, FIELDS,
                      b->scratch, b->scratch_len, b->probabilities, TASKS, NULL, 0),
            PLE_ERR_OVERLAP);

    /* Category indices outside their vocabulary. */
    const uint16_t bad_categories[][2] = {{3, 0}, {0, 2}, {PLE_UNKNOWN_CATEGORY - 1, 0},
                                          {0, 0x8000}};
    for (size_t i = 0; i < sizeof bad_categories / sizeof bad_categories[0]; i++) {
        memcpy(b->categories, bad_categories[i], sizeof bad_categories[i]);
        REJECTS(b, SPARSE(m, b->numeric, NUMERIC, b->categories, FIELDS, b->scratch,
                          b->scratch_len, b->probabilities, TASKS, NULL, 0), PLE_ERR_CATEGORY);
    }
    set_row(b);

    /* NaN and infinite inputs, in numeric and in one-hot positions. */
    const float non_finite[3] = {NAN, INFINITY, -INFINITY};
    for (int k = 0; k < 3; k++) {
        for (int at = 0; at < INPUT_DIM; at++) {
            set_row(b);
            b->dense[at] = non_finite[k];
            REJECTS(b, DENSE(m, b->dense, INPUT_DIM, b->scratch, b->scratch_len,
                             b->probabilities, TASKS, b->gates, b->gates_len),
                    PLE_ERR_NON_FINITE);
        }
        for (int at = 0; at < NUMERIC; at++) {
            set_row(b);
            b->numeric[at] = non_finite[k];
            REJECTS(b, SPARSE(m, b->numeric, NUMERIC, b->categories, FIELDS, b->scratch,
                              b->scratch_len, b->probabilities, TASKS, NULL, 0),
                    PLE_ERR_NON_FINITE);
        }
    }
    set_row(b);

    /* Extreme but finite inputs: a probability, not a NaN. */
    b->dense[0] = 3.0e38f;
    b->dense[1] = -3.0e38f;
    int32_t code = DENSE(m, b->dense, INPUT_DIM, b->scratch, b->scratch_len, b->probabilities,
                         TASKS, NULL, 0);
    EXPECT_CODE(code, PLE_OK);
    for (int t = 0; t < TASKS; t++) {
        EXPECT(b->probabilities[t] >= 0.0f && b->probabilities[t] <= 1.0f,
               "huge finite inputs give probabilities in [0, 1]");
    }
    set_row(b);

    /* An inconsistent model struct is refused by prediction too. */
    ple_model_f32 bad = *m;
    bad.weights_len--;
    REJECTS(b, DENSE(&bad, b->dense, INPUT_DIM, b->scratch, b->scratch_len, b->probabilities,
                     TASKS, NULL, 0), PLE_ERR_WEIGHTS_LENGTH);
    bad = *m;
    bad.layout.numeric = 3;
    REJECTS(b, SPARSE(&bad, b->numeric, NUMERIC, b->categories, FIELDS, b->scratch,
                      b->scratch_len, b->probabilities, TASKS, NULL, 0),
            PLE_ERR_INPUT_LAYOUT);
    bad = *m;
    bad.shape.levels = 0;
    REJECTS(b, DENSE(&bad, b->dense, INPUT_DIM, b->scratch, b->scratch_len, b->probabilities,
                     TASKS, NULL, 0), PLE_ERR_SHAPE);
}

static void predictions_f16(const ple_model_f16 *m, buffers *b) {
    set_row(b);
    EXPECT_CODE(ple_predict_dense_f16(m, b->dense, INPUT_DIM, b->scratch, b->scratch_len,
                                      b->probabilities, TASKS, b->gates, b->gates_len), PLE_OK);
    float p_dense[TASKS];
    memcpy(p_dense, b->probabilities, sizeof p_dense);
    EXPECT_CODE(ple_predict_sparse_f16(m, b->numeric, NUMERIC, b->categories, FIELDS,
                                       b->scratch, b->scratch_len, b->probabilities, TASKS,
                                       NULL, 0), PLE_OK);
    EXPECT(memcmp(p_dense, b->probabilities, sizeof p_dense) == 0, "f16 dense and sparse agree");

    REJECTS(b, ple_predict_dense_f16(NULL, b->dense, INPUT_DIM, b->scratch, b->scratch_len,
                                     b->probabilities, TASKS, NULL, 0), PLE_ERR_NULL);
    REJECTS(b, ple_predict_dense_f16(m, b->dense, INPUT_DIM, b->scratch, 1, b->probabilities,
                                     TASKS, NULL, 0), PLE_ERR_SCRATCH_LENGTH);
    REJECTS(b, ple_predict_dense_f16(m, b->dense, INPUT_DIM + 1, b->scratch, b->scratch_len,
                                     b->probabilities, TASKS, NULL, 0), PLE_ERR_INPUT_LENGTH);
    REJECTS(b, ple_predict_sparse_f16(m, b->numeric, NUMERIC, b->categories, FIELDS,
                                      b->scratch, b->scratch_len, b->probabilities, TASKS,
                                      b->gates, 1), PLE_ERR_GATES_LENGTH);
    b->categories[1] = 2;
    REJECTS(b, ple_predict_sparse_f16(m, b->numeric, NUMERIC, b->categories, FIELDS,
                                      b->scratch, b->scratch_len, b->probabilities, TASKS,
                                      NULL, 0), PLE_ERR_CATEGORY);
    set_row(b);
    b->numeric[1] = NAN;
    REJECTS(b, ple_predict_sparse_f16(m, b->numeric, NUMERIC, b->categories, FIELDS,
                                      b->scratch, b->scratch_len, b->probabilities, TASKS,
                                      NULL, 0), PLE_ERR_NON_FINITE);
    set_row(b);
    REJECTS(b, ple_predict_sparse_f16(m, b->numeric, NUMERIC, b->categories, FIELDS,
                                      b->scratch, b->scratch_len, b->probabilities, TASKS,
                                      b->probabilities, TASKS), PLE_ERR_OVERLAP);
    ple_model_f16 bad = *m;
    bad.shape.input_dim = 6;
    REJECTS(b, ple_predict_dense_f16(&bad, b->dense, INPUT_DIM, b->scratch, b->scratch_len,
                                     b->probabilities, TASKS, NULL, 0), PLE_ERR_INPUT_LAYOUT);
}

/* On-device standardisation: numeric_mean and numeric_std (both or neither), each value
 * checked, their tables guarded like the weights; raw inputs through the tables give what
 * standardised inputs give without them, in the sparse and the dense form. */
static void standardisation(const ple_model_f32 *plain, const ple_model_f16 *plain16,
                            buffers *b) {
    float *mean = guarded(NUMERIC * sizeof(float));
    float *std = guarded(NUMERIC * sizeof(float));
    mean[0] = 0.25f;
    mean[1] = -1.0f;
    std[0] = 2.0f;
    std[1] = 0.5f;
    ple_model_f32 m = *plain;
    m.numeric_mean = mean;
    m.numeric_std = std;
    ple_model_f16 h = *plain16;
    h.numeric_mean = mean;
    h.numeric_std = std;
    EXPECT_CODE(ple_validate_f32(&m), PLE_OK);
    EXPECT_CODE(ple_validate_f16(&h), PLE_OK);

    /* Raw (0.5, -1.25) through the tables; (0.125, -0.5) standardised by hand. */
    float with_tables[TASKS], dense_tables[TASKS];
    set_row(b);
    EXPECT_CODE(SPARSE(&m, b->numeric, NUMERIC, b->categories, FIELDS, b->scratch,
                       b->scratch_len, b->probabilities, TASKS, NULL, 0), PLE_OK);
    memcpy(with_tables, b->probabilities, sizeof with_tables);
    EXPECT_CODE(DENSE(&m, b->dense, INPUT_DIM, b->scratch, b->scratch_len, b->probabilities,
                      TASKS, NULL, 0), PLE_OK);
    memcpy(dense_tables, b->probabilities, sizeof dense_tables);
    b->numeric[0] = 0.125f;
    b->numeric[1] = -0.5f;
    EXPECT_CODE(SPARSE(plain, b->numeric, NUMERIC, b->categories, FIELDS, b->scratch,
                       b->scratch_len, b->probabilities, TASKS, NULL, 0), PLE_OK);
    for (int t = 0; t < TASKS; t++) {
        EXPECT(fabsf(with_tables[t] - b->probabilities[t]) < 1e-6f &&
                   fabsf(dense_tables[t] - b->probabilities[t]) < 1e-6f,
               "the tables standardise raw inputs, sparse and dense");
    }
    set_row(b);

    /* One table without the other, bad values, misaligned and huge-length cases. */
    ple_model_f32 bad = m;
    bad.numeric_mean = NULL;
    EXPECT_CODE(ple_validate_f32(&bad), PLE_ERR_NULL);
    REJECTS(b, SPARSE(&bad, b->numeric, NUMERIC, b->categories, FIELDS, b->scratch,
                      b->scratch_len, b->probabilities, TASKS, NULL, 0), PLE_ERR_NULL);
    bad = m;
    bad.numeric_std = NULL;
    EXPECT_CODE(ple_validate_f32(&bad), PLE_ERR_NULL);
    ple_model_f16 bad16 = h;
    bad16.numeric_std = NULL;
    EXPECT_CODE(ple_validate_f16(&bad16), PLE_ERR_NULL);
    bad = m;
    bad.numeric_mean = (const float *)(const void *)((const unsigned char *)mean + 1);
    EXPECT_CODE(ple_validate_f32(&bad), PLE_ERR_POINTER);
    const float bad_means[] = {NAN, INFINITY, -INFINITY};
    const float bad_stds[] = {0.0f, -0.0f, -1.0f, NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof bad_means / sizeof bad_means[0]; i++) {
        mean[1] = bad_means[i];
        EXPECT_CODE(ple_validate_f32(&m), PLE_ERR_STANDARDISATION);
        REJECTS(b, DENSE(&m, b->dense, INPUT_DIM, b->scratch, b->scratch_len,
                         b->probabilities, TASKS, NULL, 0), PLE_ERR_STANDARDISATION);
        EXPECT_CODE(ple_validate_f16(&h), PLE_ERR_STANDARDISATION);
    }
    mean[1] = -1.0f;
    for (size_t i = 0; i < sizeof bad_stds / sizeof bad_stds[0]; i++) {
        std[0] = bad_stds[i];
        EXPECT_CODE(ple_validate_f32(&m), PLE_ERR_STANDARDISATION);
        REJECTS(b, SPARSE(&m, b->numeric, NUMERIC, b->categories, FIELDS, b->scratch,
                          b->scratch_len, b->probabilities, TASKS, NULL, 0),
                PLE_ERR_STANDARDISATION);
    }
    std[0] = 2.0f;
    EXPECT_CODE(ple_validate_f32(&m), PLE_OK);

    /* An output over a table. */
    EXPECT_CODE(SPARSE(&m, b->numeric, NUMERIC, b->categories, FIELDS, b->scratch,
                       b->scratch_len, std, TASKS, NULL, 0), PLE_ERR_OVERLAP);
    EXPECT(std[0] == 2.0f && std[1] == 0.5f, "a table under a refused output is untouched");
    /* Raw inputs huge enough to overflow once standardised: a probability or an error,
     * never a NaN. */
    b->numeric[0] = 3.0e38f;
    int32_t code = SPARSE(&m, b->numeric, NUMERIC, b->categories, FIELDS, b->scratch,
                          b->scratch_len, b->probabilities, TASKS, NULL, 0);
    EXPECT(code == PLE_OK || code == PLE_ERR_NON_FINITE, "huge raw inputs: a result or an error");
    if (code == PLE_OK) {
        EXPECT(b->probabilities[0] >= 0.0f && b->probabilities[0] <= 1.0f,
               "huge raw inputs give probabilities in [0, 1]");
    }
    set_row(b);
}

int main(void) {
    ple_shape shape = good_shape();
    size_t packed = ple_packed_len(&shape);
    float *weights = guarded(packed * sizeof(float));
    uint16_t *weights16 = guarded(packed * sizeof(uint16_t));
    for (size_t i = 0; i < packed; i++) {
        /* Small deterministic weights in [-0.5, 0.5), exact in binary16 (multiples of 1/64). */
        int v = (int)((i * 37u + 11u) % 64u) - 32;
        weights[i] = (float)v / 64.0f;
        /* binary16 of v/64: sign, exponent and mantissa built by hand (|v| < 64). */
        unsigned a = (unsigned)(v < 0 ? -v : v);
        uint16_t bits = 0;
        if (a != 0) {
            int e = 0;
            while ((a >> (e + 1)) != 0) {
                e++;
            }
            unsigned mantissa = (a << (10 - e)) & 0x3ffu;
            bits = (uint16_t)(((unsigned)(e - 6 + 15) << 10) | mantissa);
        }
        weights16[i] = (uint16_t)(bits | (v < 0 ? 0x8000u : 0u));
    }
    ple_model_f32 model = {good_shape(), good_layout(), weights, packed, NULL, NULL};
    ple_model_f16 model16 = {good_shape(), good_layout(), weights16, packed, NULL, NULL};

    sizes();
    error_messages();
    validation(&model, &model16);
    buffers b = make_buffers(&shape);
    predictions_f32(&model, &b);
    predictions_f16(&model16, &b);
    standardisation(&model, &model16, &b);
    abuse_int8();

    /* f32 and f16 hold the same weight values: the same probabilities within rounding. */
    set_row(&b);
    float p32[TASKS];
    EXPECT_CODE(ple_predict_sparse_f32(&model, b.numeric, NUMERIC, b.categories, FIELDS,
                                       b.scratch, b.scratch_len, b.probabilities, TASKS,
                                       NULL, 0), PLE_OK);
    memcpy(p32, b.probabilities, sizeof p32);
    EXPECT_CODE(ple_predict_sparse_f16(&model16, b.numeric, NUMERIC, b.categories, FIELDS,
                                       b.scratch, b.scratch_len, b.probabilities, TASKS,
                                       NULL, 0), PLE_OK);
    for (int t = 0; t < TASKS; t++) {
        EXPECT(fabsf(p32[t] - b.probabilities[t]) < 1e-5f, "f16 weights equal to f32 ones");
    }

    printf("checks=%u\nfailures=%u\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
