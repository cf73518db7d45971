/*
 * abuse.h: what abuse.c (f32 and f16) and abuse_int8.c (int8) share: the check counters and
 * macros, and memory that ends right before a page the process may not touch.
 */
#ifndef ABUSE_H
#define ABUSE_H

#include <stddef.h>
#include <stdio.h>

#include "ple_core.h"

extern unsigned checks;
extern unsigned failures;

#define EXPECT(cond, what)                                                    \
    do {                                                                      \
        checks++;                                                             \
        if (!(cond)) {                                                        \
            failures++;                                                       \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, what);             \
        }                                                                     \
    } while (0)

#define EXPECT_CODE(call, code)                                               \
    do {                                                                      \
        int32_t got_ = (call);                                                \
        checks++;                                                             \
        if (got_ != (code)) {                                                 \
            failures++;                                                       \
            printf("FAIL %s:%d: %s returned %d (%s), expected %d (%s)\n",     \
                   __FILE__, __LINE__, #call, (int)got_,                      \
                   ple_error_message(got_), (int)(code),                      \
                   ple_error_message(code));                                  \
        }                                                                     \
    } while (0)

/* `bytes` of writable memory followed by a page the process may not touch. */
void *guarded(size_t bytes);

/* The int8 entry points under abuse (abuse_int8.c). */
void abuse_int8(void);

#endif /* ABUSE_H */
