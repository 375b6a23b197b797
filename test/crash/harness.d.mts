export interface LogRecord {
  seq: number
  op: string
  name?: string
  newName?: string
  ino?: string
  dir?: string
  to?: string
  mtime?: number
  label?: string
  sync?: boolean
  bytes?: Buffer
}
export interface Recording {
  name: string
  initial: unknown
  ops: LogRecord[]
}
export interface Violation {
  workload: string
  cut: number
  mode: string
  stateSeed: number
  message: string
  before?: LogRecord
  after?: LogRecord
}
export interface StatesResult {
  checked: number
  /** States whose end state was compared with the uncut run's (invariant 4). */
  ended: number
  cuts: number
  ops: number
  violations: Violation[]
}
export const REPO: string
export const WORKLOAD_NAMES: string[]
export const PACKAGE: string
export function requireFuse(): void
export function mountCrashfs(src: string, mnt: string, log: string): Promise<() => Promise<void>>
export function record(name: string, options: { pkg?: string; work: string; killAfterMs?: number }): Promise<Recording>
export function checkStates(
  recording: Recording,
  options: {
    pkg?: string
    work: string
    seed?: number
    states?: number
    onState?: (checked: number, cut: number) => void
    uncut?: string[]
  }
): Promise<StatesResult>
export function liveCuts(options?: {
  names?: string[]
  pkg?: string
  seed?: number
  rounds?: number
  maxMs?: number
  variants?: number
}): Promise<{ checked: number; ended: number; violations: Violation[] }>
export function run(options?: {
  names?: string[]
  pkg?: string
  seed?: number
  states?: number
  recoveryShare?: number
  log?: (line: string) => void
}): Promise<Array<StatesResult & { name: string; recoveryStates: number }>>
export function replayDifferences(recording: Pick<Recording, 'initial' | 'ops'>, src: string, work: string): string[]
export function describe(violation: Violation): string
export function unmountLeftovers(): void
