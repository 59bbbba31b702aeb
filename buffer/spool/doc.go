// Package spool owns the durable store-and-forward queue between the batcher and the cloud link:
// encoded batches appended to segment files on disk, kept until the broker acknowledges them, and
// replayed oldest first after an outage or a restart.
//
// On disk, Dir holds segment files numbered in creation order (00000000000000000001.seg)
// and acks.log. A segment is a sequence of records:
//
//	u32 payload length | u32 CRC-32C of (seq, payload) | u64 seq | payload      (little endian)
//
// acks.log is a sequence of 12-byte entries, u64 seq | u32 CRC-32C(seq), one per acknowledged batch.
//
// Durability: writes are grouped and fsync'd every SyncEvery batches or SyncInterval, whichever
// comes first, to spare SD cards. Recovery on Open scans every segment; a torn or corrupt record ends
// that segment's valid part: the records before it are kept, the rest is cut off and counted, and the
// segment is closed for appends. A segment file is deleted only when every record in it is acknowledged
// or evicted; acks of deleted segments are dropped by rewriting acks.log atomically (temp file, fsync,
// rename, fsync of the directory), so a crash at any step leaves either the old or the new state.
//
// A failed fsync is not retried on the same file: on Linux a retried fsync can report success for
// pages the kernel already dropped. The records written since the last good fsync are rewritten from
// memory into a fresh segment, and recovery keeps the first valid copy of each sequence number.
//
// Disk space is bounded by QuotaBytes: when an append would pass it, or the filesystem reports
// ENOSPC, the oldest segment is evicted and its unacknowledged batches are counted as evicted. A
// full disk never stops sampling.
package spool
