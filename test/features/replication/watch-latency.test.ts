// The watcher's copy latency (watch-latency.ts) in a service that runs for months: frames that another process
// copies are never told to it, and the map of frames awaited stays bounded; in an outage it keeps the oldest.
import type { Stats } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { CopyLatency, MAX_FOUND } from '../../../src/features/replication/watch-latency.js'

const hex = (i: number): string => i.toString(16).padStart(64, '0')
const filed = (ms: number): Stats => ({ ctimeMs: ms, mtimeMs: ms }) as Stats
const sizeOf = (latency: CopyLatency): number =>
  (latency as unknown as { appeared: Map<string, unknown> }).appeared.size

describe('the watcher copy latency', () => {
  it('holds at most MAX_FOUND frames: a day-old one goes for a new one; full of younger ones, a new one is not timed', () => {
    const told: string[] = []
    const latency = new CopyLatency({ onCopied: sha256 => told.push(sha256) })
    const twoDaysAgo = Date.now() - 2 * 86_400_000
    for (let i = 0; i < MAX_FOUND; i++) latency.found(hex(i), filed(twoDaysAgo), 1) // copied elsewhere
    expect(sizeOf(latency)).toBe(MAX_FOUND)
    latency.found(hex(MAX_FOUND), filed(Date.now() - 60_000), 1) // the day-old ones go
    expect(sizeOf(latency)).toBe(1)
    for (let i = MAX_FOUND + 1; i < 2 * MAX_FOUND; i++) latency.found(hex(i), filed(Date.now()), 1)
    expect(sizeOf(latency)).toBe(MAX_FOUND)
    latency.found(hex(2 * MAX_FOUND), filed(Date.now()), 1) // an outage: the oldest are kept, this one not timed
    expect(sizeOf(latency)).toBe(MAX_FOUND)
    for (const i of [0, MAX_FOUND, 2 * MAX_FOUND]) latency.listener('copy', hex(i))
    expect(told).toEqual([hex(MAX_FOUND)]) // a minute's latency, the longest still awaited
    expect(sizeOf(latency)).toBe(MAX_FOUND - 1)
  })
})
