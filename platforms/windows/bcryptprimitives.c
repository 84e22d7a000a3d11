/* ProcessPrng for wine before 8.13 (Debian 12 ships 8.0), which has no bcryptprimitives.dll:
   Rust's standard library takes every random byte from it (HashMap keys, temporary names), so
   without it no Rust program built for Windows starts. Windows itself provides the real DLL; this
   one is only installed into the wine prefix that `make test-windows` makes, and forwards to
   RtlGenRandom (advapi32's SystemFunction036), the generator wine does have. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
