/*
 * Test-only stand-in for bcryptprimitives.dll under wine 8, which lacks it.
 *
 * Rust's standard library (1.78+) gets random bytes from ProcessPrng in bcryptprimitives.dll,
 * which every Windows 10 and 11 ships; Debian 12's wine 8 does not have the DLL, so the host
 * would not even load. test-msi.sh builds this file with mingw and puts it in the wine
 * prefix's system32. It is never shipped: the MSI installs only the host.
 */
#include <windows.h>
#include <ntsecapi.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!RtlGenRandom(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
