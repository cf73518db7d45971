/* Predicts every row of a binary rows file with a model baked by ple-codegen (`model.h`,
 * `model.c`) through libple_core.a, and writes the outputs to a binary file, for the golden
 * test (`golden_generated.rs`) to compare with Rust.
 *
 * Rows file: per row, MODEL_NUMERIC_LEN raw float values, then MODEL_FIELDS uint16_t category
 * indices, in the host's byte order. Output: per row, MODEL_TASKS float probabilities, or
 * with PREDICT_INT8 defined, MODEL_TASKS int32_t Q16 logits then MODEL_TASKS uint16_t Q15
 * probabilities. Exits 0 when every row was predicted. */
#include <stdio.h>

#include "model.h"

#ifdef PREDICT_INT8
static int32_t scratch[MODEL_SCRATCH_LEN];
#else
static float scratch[MODEL_SCRATCH_LEN];
#endif

int main(int argc, char **argv) {
    FILE *in, *out;
    float numeric[MODEL_NUMERIC_LEN];
    uint16_t categories[MODEL_FIELDS];
    unsigned long row = 0;
    if (argc != 3) {
        fprintf(stderr, "usage: %s ROWS OUT\n", argv[0]);
        return 2;
    }
    in = fopen(argv[1], "rb");
    out = fopen(argv[2], "wb");
    if (in == NULL || out == NULL) {
        fprintf(stderr, "cannot open %s or %s\n", argv[1], argv[2]);
        return 2;
    }
    while (fread(numeric, sizeof numeric, 1, in) == 1) {
        int32_t status;
        if (fread(categories, sizeof categories, 1, in) != 1) {
            fprintf(stderr, "row %lu: truncated\n", row);
            return 2;
        }
#ifdef PREDICT_INT8
        {
            int32_t fixed[MODEL_NUMERIC_LEN];
            int32_t logits[MODEL_TASKS];
            uint16_t probabilities[MODEL_TASKS];
            model_numeric_to_fixed(numeric, fixed);
            status = model_predict(fixed, categories, scratch, logits, probabilities);
            if (status == PLE_OK && (fwrite(logits, sizeof logits, 1, out) != 1 ||
                                     fwrite(probabilities, sizeof probabilities, 1, out) != 1)) {
                return 2;
            }
        }
#else
        {
            float probabilities[MODEL_TASKS];
            status = model_predict(numeric, categories, scratch, probabilities);
            if (status == PLE_OK && fwrite(probabilities, sizeof probabilities, 1, out) != 1) {
                return 2;
            }
        }
#endif
        if (status != PLE_OK) {
            fprintf(stderr, "row %lu: %s\n", row, ple_error_message(status));
            return 1;
        }
        ++row;
    }
    if (fclose(out) != 0) {
        return 2;
    }
    fclose(in);
    printf("rows=%lu\n", row);
    return 0;
}
