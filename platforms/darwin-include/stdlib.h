/* Stand-ins for the few C library headers that clang does not ship and that the C code in
   credbox's dependencies includes (wasmtime's helpers.c, ring's crypto). macOS builds made here
   are checked, never linked or run, so no SDK is needed: clang's own stdbool.h, stdint.h and
   stddef.h (with -ffreestanding) do the rest. See platforms/check.sh. */
#include <stddef.h>
