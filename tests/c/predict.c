/* Predicts Census test rows through libple_core.a with a model baked by ple-codegen
 * (`model.h`/`model.c`) and compares every probability with what ple-core computed in Rust
 * for the same rows (`rows.h`, written by the test that builds this program).
 *
 * Prints one `key=value` per line and returns 0 only when every row matched. The same file
 * runs on the host (gcc, with AddressSanitizer and UBSan) and on a Cortex-M4F under QEMU
 * (arm-none-eabi-gcc, printf over semihosting). The rows hold raw numeric values: the baked
 * model's struct points to the mean and std tables it standardises them with. */
#include <math.h>
#include <stdio.h>

#include "model.h"
#include "rows.h"

#ifdef PLE_SEMIHOSTING
extern void initialise_monitor_handles(void);
#endif

/* Same tolerance as the firmware: the host may use other (SIMD) kernels, whose sums round
 * differently in the last bits. */
#define TOLERANCE 1e-5f

static float scratch[MODEL_SCRATCH_LEN];

int main(void) {
#ifdef PLE_SEMIHOSTING
    initialise_monitor_handles();
#endif
    unsigned mismatches = 0, errors = 0;
    float max_diff = 0.0f;
    for (unsigned row = 0; row < ROWS; ++row) {
        float probabilities[MODEL_TASKS];
        int32_t status = model_predict(ROW_NUMERIC[row], ROW_CATEGORIES[row], scratch, probabilities);
        if (status != PLE_OK) {
            printf("row %u: %s\n", row, ple_error_message(status));
            ++errors;
            continue;
        }
        for (unsigned task = 0; task < MODEL_TASKS; ++task) {
            float diff = fabsf(probabilities[task] - ROW_EXPECTED[row][task]);
            if (!(diff <= TOLERANCE)) {
                printf("row %u task %u: got %.9g, expected %.9g\n", row, task,
                       (double)probabilities[task], (double)ROW_EXPECTED[row][task]);
                ++mismatches;
            }
            if (diff > max_diff) {
                max_diff = diff;
            }
        }
    }
    printf("rows=%u\nmismatches=%u\nerrors=%u\nmax_abs_diff=%.3g\n", (unsigned)ROWS, mismatches,
           errors, (double)max_diff);
    /* The model takes raw values and standardises them with its own tables. */
    printf("standardised=%d\n", model.numeric_mean != NULL && model.numeric_std != NULL);
    return (mismatches == 0 && errors == 0) ? 0 : 1;
}
