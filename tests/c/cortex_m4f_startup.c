/* Minimal start-up for the C example on a Cortex-M4F (QEMU's MPS2 AN386): a vector table,
 * a reset handler that initialises .data and .bss, turns the FPU on and calls main, and a
 * HardFault handler that exits with a failure status instead of spinning. Console and exit
 * go through newlib's rdimon (semihosting). */
#include <stdint.h>
#include <stdlib.h>

extern int main(void);
extern uint32_t __data_load, __data_start, __data_end, __bss_start, __bss_end, __stack_top;

void reset_handler(void);
void fault_handler(void);

__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))(&__stack_top), reset_handler, fault_handler, fault_handler,
    fault_handler, fault_handler, fault_handler, 0, 0, 0, 0, fault_handler, fault_handler, 0,
    fault_handler, fault_handler,
};

void reset_handler(void) {
    uint32_t *src = &__data_load;
    for (uint32_t *dst = &__data_start; dst < &__data_end;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = &__bss_start; dst < &__bss_end;) {
        *dst++ = 0;
    }
    /* CP10 and CP11 full access: the FPU, which -mfloat-abi=hard code uses. */
    volatile uint32_t *cpacr = (volatile uint32_t *)0xE000ED88u;
    *cpacr |= 0xFu << 20;
    __asm volatile("dsb\n\tisb");
    exit(main());
}

void fault_handler(void) {
    exit(3);
}

/* -nostartfiles leaves these to the program. */
void _init(void) {}
void _fini(void) {}
