/**
 * A frame's write calls: at most 1 MiB each, and those of a larger input at most one fewer at once, process-wide,
 * than the machine has cores, so that the event loop keeps a core. A call copies its bytes into the page cache in
 * a pool thread (kernel time, not preempted on some kernels): 16 large stores' calls, four at once on 2 cores, kept
 * the loop waiting for a CPU for 13-40 ms (bench/RESULTS-full-run.md, session 12). Calls that sync are never gated.
 */
import { write } from 'node:fs'
import { availableParallelism } from 'node:os'
import { promisify } from 'node:util'
import pLimit from 'p-limit'

/** At most this much per write call: a 5 MB frame does not hold a pool thread (and a core) for its copy. */
export const WRITE_CHUNK_BYTES = 1024 * 1024

export const writeAt = promisify(write)

const copies = pLimit(Math.max(1, availableParallelism() - 1))

/** `writeAt` once a copy slot is free (p-limit's own function, bound: no code of ours runs for it). */
export const gatedWriteAt = copies.bind(undefined, writeAt as (...args: unknown[]) => unknown) as typeof writeAt
