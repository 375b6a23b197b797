/** What `sai-images verify` prints: its outcome, the problems found, and what the repair did or refused. */
import type { VerifyReport } from '../../core/verify-report.js'
import { plural } from '../context.js'
import { formatBytes } from '../units.js'

export interface Subset {
  index: number
  count: number
}

export interface VerifyOutcome {
  /** The store's own report, and with the variant cache's merged in. */
  report: VerifyReport
  total: VerifyReport
  variants?: VerifyReport
  subset?: Subset
  repair: boolean
  /** A root that is not there, and --allow-empty not given. */
  unexpectedlyEmpty: boolean
  /** List the first 20 problems only (a storm, without --json). */
  short: boolean
  /** --expect-file / --expect-sql: the frames named, and how many the store does not hold. */
  expected?: { frames: number; missing: number }
}

export function verifyText(outcome: VerifyOutcome): string {
  const { report, total, variants, subset } = outcome
  const shown = outcome.short ? total.problems.slice(0, 20) : total.problems
  const more =
    shown.length < total.problems.length
      ? `\n  … and ${total.problems.length - shown.length} more (--json lists them)`
      : ''
  const scope = subset === undefined ? '' : ` in subset ${subset.index}/${subset.count}`
  const ofVariants = variants === undefined ? '' : `, ${plural(variants.checked, 'variant')}`
  return (
    `verify: ${plural(report.checked, 'object')} checked (${formatBytes(report.bytes)})${scope}${ofVariants}: ` +
    outcomeText(outcome) +
    shown.map(problemLine).join('') +
    more +
    stormText(total) +
    copiesText(report) +
    expectedText(outcome.expected) +
    quarantineText(report)
  )
}

function outcomeText({ total, repair, unexpectedlyEmpty }: VerifyOutcome): string {
  const problems = Object.values(total.counts).reduce((a, b) => a + b, 0)
  if (unexpectedlyEmpty) return 'nothing to check'
  if (problems === 0) return 'clean'
  const repaired = repair
    ? `: ${total.restored} restored, ${total.quarantined} quarantined (lost from the store), ${total.removed} removed`
    : ''
  const lost =
    total.counts.lost === undefined
      ? ''
      : `; ${plural(total.counts.lost, 'frame')} LOST: no good copy is left anywhere (restore it from a backup)`
  return `${plural(problems, 'problem')}${repaired}${total.clean ? ', clean now' : ''}${lost}`
}

function problemLine(p: VerifyReport['problems'][number]): string {
  const copy = p.copy === undefined || p.copy === 'primary' ? '' : `${p.copy}: `
  const action = p.action === undefined ? '' : ` ${p.action}`
  const why =
    p.reason === 'not-a-file' ? ' (a folder or a link where a frame should be: move it aside; a repair leaves it)' : ''
  return `\n  ${p.reason.padEnd(10)} ${copy}${p.path}${action}${p.movedTo === undefined ? '' : ` -> ${p.movedTo}`}${why}`
}

function stormText({ storm }: VerifyReport): string {
  if (storm === undefined) return ''
  if (!storm.refused) return `\nrepaired although it acted on ${storm.found} of ${storm.objects} objects (--force)`
  return (
    `\nREPAIR REFUSED, nothing was changed: it would have acted on ${storm.found} of ${storm.objects} objects ` +
    `(the limit: ${storm.limit}, or ${storm.fraction * 100}% of the store). ${storm.cause}`
  )
}

function copiesText(report: VerifyReport): string {
  const copies = (report as { copies?: { belowWanted: number; lost: number; madeWhole?: number } }).copies
  if (copies === undefined) return ''
  const whole = copies.madeWhole === undefined ? '' : ` (${copies.madeWhole} more before the repair made them whole)`
  const below = `${plural(copies.belowWanted, 'frame')} below the wanted copies${whole}`
  return `\ncopies: ${below}, ${copies.lost} lost (no good copy left)`
}

function expectedText(expected: VerifyOutcome['expected']): string {
  if (expected === undefined) return ''
  const missing = expected.missing === 0 ? 'every one is in the store' : `${expected.missing} not in the store (LOST)`
  return `\nexpected: ${plural(expected.frames, 'frame')} named by --expect-file/--expect-sql, ${missing}`
}

function quarantineText({ quarantine }: VerifyReport): string {
  if (quarantine === undefined || quarantine.objects === 0) return ''
  return (
    `\nquarantine: ${plural(quarantine.objects, 'object')}, ${formatBytes(quarantine.bytes)} ` +
    '(sai-images quarantine lists them)'
  )
}
