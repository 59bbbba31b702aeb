// Package codepages keeps the daemon's resident code down to the code it runs.
//
// A Go binary is one file: on the boards about 10 MB of text, read-only data and the pc-value tables
// the runtime reads to walk stacks. The kernel maps it from the page cache and, on every page fault,
// maps up to 64 KiB of neighbours with it ("fault-around"), so within seconds of start almost the
// whole file is in the process's RSS although the idle daemon touches about 2 MB of it.
//
// Trim tells the kernel, for the executable's read-only mappings only, that access is random
// (MADV_RANDOM: no fault-around and no read-ahead on them) and drops their pages from this process's
// page tables (MADV_DONTNEED). The file stays in the page cache, so the pages the daemon still uses come
// back one by one as minor faults; the rest stay out of its RSS. Writable mappings (the binary's data)
// are never touched: dropping those would lose their contents.
//
// What it does not change: the page cache still holds the file and a memory cgroup is still charged
// for it; the pages were clean and reclaimable before and are after. When memory is short and the
// kernel has evicted the file, a rarely run path (a reload, a reconnect) reads its pages from storage
// 4 KiB at a time instead of with read-ahead.
package codepages
