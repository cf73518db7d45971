/* Predicts Census test rows through libple_core.a with an int8 model baked by ple-codegen
 * (`model.h`/`model.c`) and checks that every Q16 logit and Q15 probability is bit for bit
 * what ple-core computed in Rust for the same rows (`rows.h`, written by the test that builds
 * this program). The raw numeric values go through the generated model_numeric_to_fixed.
 *
 * Also asks for the gate weights (through ple_predict_int8 itself) and checks that they are
 * Q15 weights summing to one per gate within rounding, that a call with the probabilities
 * alone gives the same probabilities, and that a handle filled once by ple_int8_handle_init
 * (ple_predict_int8_validated) gives the same logits and probabilities.
 *
 * Prints one `key=value` per line and returns 0 only when every row matched. The same file
 * runs on the host (gcc, with AddressSanitizer and UBSan) and on a Cortex-M4F under QEMU
 * (arm-none-eabi-gcc, printf over semihosting).
 *
 * With PLE_COUNT_INSTRUCTIONS (the Cortex-M4F build, run under QEMU's `-icount shift=10`) it
 * also counts the instructions of each kind of call, as firmware-example does: QEMU's virtual
 * clock then advances 1024 ns per executed instruction, so the MPS2 CMSDK timer 0 (25 MHz)
 * counts 25.6 ticks per instruction. Each figure has the cost of an empty measurement
 * subtracted, and a loop of known length checks the conversion (calibration_measured must be
 * calibration_expected, give or take one). */
#include <stdio.h>

#include "model.h"
#include "rows.h"

#ifdef PLE_SEMIHOSTING
extern void initialise_monitor_handles(void);
#endif

#ifdef PLE_COUNT_INSTRUCTIONS
#define TIMER0 ((volatile uint32_t *)0x40000000u) /* CTRL, VALUE, RELOAD */

static void counter_start(void) {
    TIMER0[2] = 0xFFFFFFFFu;
    TIMER0[1] = 0xFFFFFFFFu;
    TIMER0[0] = 1u;
}

/* The timer counts down: an up-counting value. */
static inline uint32_t counter_now(void) {
    return ~TIMER0[1];
}

static uint32_t counter_overhead;

/* Instructions since `begin` (25.6 ticks each, rounded), without a measurement's own cost. */
static inline uint32_t counter_elapsed(uint32_t begin) {
    uint32_t ticks = counter_now() - begin;
    uint32_t units = (uint32_t)(((uint64_t)ticks * 5u + 64u) >> 7);
    return units > counter_overhead ? units - counter_overhead : 0u;
}

/* Exactly 2 * n instructions (a decrement and a branch per iteration), not inlined so that
 * both calls run the same code around the counter reads. */
__attribute__((noinline)) static uint32_t timed_loop(uint32_t n) {
    uint32_t begin = counter_now();
    __asm volatile("1: subs %0, #1\n\tbne 1b" : "+l"(n) : : "cc");
    return counter_elapsed(begin);
}

/* Fewest, most and total instructions of one kind of call. */
struct tally {
    uint32_t min, max, total;
};

static void tally_add(struct tally *t, uint32_t spent) {
    if (spent < t->min) {
        t->min = spent;
    }
    if (spent > t->max) {
        t->max = spent;
    }
    t->total += spent;
}

static void tally_print(const char *name, const struct tally *t) {
    printf("instructions_%s_min=%lu\ninstructions_%s_mean=%lu\ninstructions_%s_max=%lu\n", name,
           (unsigned long)t->min, name, (unsigned long)(t->total / ROWS), name,
           (unsigned long)t->max);
}

static struct tally plain_gates = {UINT32_MAX, 0, 0}, plain = {UINT32_MAX, 0, 0},
                    validated = {UINT32_MAX, 0, 0};
#define TIMED(tally, call)                                                                     \
    do {                                                                                       \
        uint32_t begin_ = counter_now();                                                       \
        status = (call);                                                                       \
        tally_add(&(tally), counter_elapsed(begin_));                                          \
    } while (0)
#else
#define TIMED(tally, call) (status = (call))
#endif

static int32_t scratch[MODEL_SCRATCH_LEN];
static uint16_t gates[64];
static ple_int8_handle handle;

int main(void) {
    unsigned mismatches = 0, errors = 0;
    size_t gates_len;
#ifdef PLE_SEMIHOSTING
    initialise_monitor_handles();
#endif
#ifdef PLE_COUNT_INSTRUCTIONS
    counter_start();
    {
        uint32_t begin = counter_now();
        counter_overhead = 0;
        counter_overhead = counter_elapsed(begin);
    }
    {
        uint32_t short_loop = timed_loop(1000u), long_loop = timed_loop(2000u);
        printf("calibration_expected=2000\ncalibration_measured=%lu\n",
               (unsigned long)(long_loop - short_loop));
    }
#endif
    gates_len = ple_int8_gates_len(&model);
    if (gates_len == 0 || gates_len > sizeof gates / sizeof gates[0]) {
        printf("gates_len=%u does not fit\n", (unsigned)gates_len);
        return 1;
    }
    if (ple_int8_scratch_len(&model) != MODEL_SCRATCH_LEN) {
        printf("scratch length differs from ple_int8_scratch_len\n");
        return 1;
    }
    if (ple_int8_handle_init(&model, &handle) != PLE_OK) {
        printf("ple_int8_handle_init refused the model\n");
        return 1;
    }
    for (unsigned row = 0; row < ROWS; ++row) {
        int32_t fixed[MODEL_NUMERIC_LEN];
        int32_t logits[MODEL_TASKS], handle_logits[MODEL_TASKS];
        uint16_t probabilities[MODEL_TASKS], alone[MODEL_TASKS], handle_q15[MODEL_TASKS];
        int32_t status;
        model_numeric_to_fixed(ROW_NUMERIC[row], fixed);
        TIMED(plain_gates,
              ple_predict_int8(&model, fixed, MODEL_NUMERIC_LEN, ROW_CATEGORIES[row],
                               MODEL_FIELDS, scratch, MODEL_SCRATCH_LEN, logits, MODEL_TASKS,
                               probabilities, MODEL_TASKS, gates, gates_len));
        if (status == PLE_OK) {
            TIMED(plain, model_predict(fixed, ROW_CATEGORIES[row], scratch, NULL, alone));
        }
        if (status == PLE_OK) {
            TIMED(validated,
                  ple_predict_int8_validated(&handle, fixed, MODEL_NUMERIC_LEN,
                                             ROW_CATEGORIES[row], MODEL_FIELDS, scratch,
                                             MODEL_SCRATCH_LEN, handle_logits, MODEL_TASKS,
                                             handle_q15, MODEL_TASKS, NULL, 0));
        }
        if (status != PLE_OK) {
            printf("row %u: %s\n", row, ple_error_message(status));
            ++errors;
            continue;
        }
        for (unsigned task = 0; task < MODEL_TASKS; ++task) {
            if (logits[task] != ROW_LOGITS[row][task] || probabilities[task] != ROW_Q15[row][task] ||
                alone[task] != probabilities[task] || handle_logits[task] != logits[task] ||
                handle_q15[task] != probabilities[task]) {
                printf("row %u task %u: got %ld / %u, expected %ld / %u\n", row, task,
                       (long)logits[task], (unsigned)probabilities[task],
                       (long)ROW_LOGITS[row][task], (unsigned)ROW_Q15[row][task]);
                ++mismatches;
            }
        }
        {
            /* Every task gate's weights sum to 1.0 in Q15, up to one unit per expert. */
            size_t per_gate = gates_len / (MODEL_TASKS * model.shape.levels);
            for (size_t g = 0; g < gates_len; g += per_gate) {
                long sum = 0;
                for (size_t e = 0; e < per_gate; ++e) {
                    sum += gates[g + e];
                }
                if (sum < 32768 - (long)per_gate || sum > 32768 + (long)per_gate) {
                    printf("row %u: gate weights sum to %ld\n", row, sum);
                    ++mismatches;
                }
            }
        }
    }
#ifdef PLE_COUNT_INSTRUCTIONS
    /* plain_gates: ple_predict_int8 with logits, probabilities and gate weights; plain:
     * model_predict (ple_predict_int8, probabilities only); validated: the handle's call,
     * logits and probabilities. Each checks its buffers; only the first two scan the model. */
    tally_print("plain_gates", &plain_gates);
    tally_print("plain", &plain);
    tally_print("validated", &validated);
#endif
    printf("rows=%u\nmismatches=%u\nerrors=%u\n", (unsigned)ROWS, mismatches, errors);
    return (mismatches == 0 && errors == 0) ? 0 : 1;
}
