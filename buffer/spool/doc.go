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
// comes first, to spare SD cards. Recovery on Open scans every segment. A damaged record with intact
// records after it (a flipped bit, a bad sector) is skipped: the scan resynchronises on the next offset
// whose header is plausible (a length that fits, a sequence number above the last good one) and whose
// CRC holds, keeps every record from there, and counts the skipped region (SkippedRecords,
// SkippedBytes). A damaged record with nothing valid after it is a torn tail (a power cut mid-write):
// it is cut off and counted (TornRecords, CutBytes). Recovered segments are closed for appends. A segment file is deleted only when every record in it is acknowledged
// or evicted; acks of deleted segments are dropped by rewriting acks.log atomically (temp file, fsync,
// rename, fsync of the directory), so a crash at any step leaves either the old or the new state.
//
// A failed fsync is not retried on the same file: on Linux a retried fsync can report success for
// pages the kernel already dropped. The records written since the last good fsync are rewritten from
// memory into a fresh segment, and recovery keeps the first valid copy of each sequence number.
//
// Disk space is bounded by QuotaBytes and by the filesystem. When an append would pass the quota, the
// oldest segment is evicted and its unacknowledged batches are counted (Evicted). Before each append the
// spool asks statfs for the free space and evicts its oldest segments until the record and a 64 KiB
// reserve fit (the reserve keeps room for the ack log and the gateway's sequence lease); those count as
// EvictedDiskFull too. New segments are at most an eighth of what the spool can hold on its disk, so on
// a small disk eviction drops an eighth of the backlog at a time, not all of it. Should a write still
// fail with ENOSPC (another program filled the disk), its partial record is truncated away and the
// oldest segment, even the active one, is evicted before the write is tried again; a batch is Lost
// only when nothing is left to evict. MakeRoom lets the gateway free space the same way when its
// sequence lease cannot be written. A full disk never stops sampling, nor the daemon's start.
package spool
