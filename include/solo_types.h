/* SPDX-License-Identifier: Apache-2.0 */
/* Typedefs that `bee-ts run` prints specially (compatible with BumbleBee's solo_types.h).
 * Use them as struct field types in ring-buffer values and hash keys:
 *   ipv4_addr  u32 in network order      -> "10.0.0.1"
 *   ipv6_addr  16 bytes                  -> "2001:db8::1" (RFC 5952)
 *   duration   u64 nanoseconds           -> "1.5ms" (Go duration format)
 *   mac_addr_t 6 bytes                   -> "aa:bb:cc:dd:ee:ff" (vmlinux.h already has a mac_addr)
 *   port       u16 in network order      -> "443"
 *   errno_t    s32 (negative or positive) -> "ENOENT"
 *   timestamp  u64 ns since boot         -> printed as a number of ns (kept for clarity in labels)
 */
#ifndef __SOLO_TYPES_H
#define __SOLO_TYPES_H

typedef __u32 ipv4_addr;
typedef __u8 ipv6_addr[16];
typedef __u64 duration;
typedef __u8 mac_addr_t[6];
typedef __u16 port;
typedef __s32 errno_t;

#endif
