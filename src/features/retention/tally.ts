/** A prune's counts as it goes, kept in one object: the report's numbers and the span of what it chose. */
import type { PruneCandidate, PruneReport } from './types.js'

/** Why a listed object that may not go stays. */
export type Spared = 'protected' | 'unknown' | 'recent'

export class Tally {
  readonly report: PruneReport
  private chosenBytes = 0
  private oldest = NaN
  private newest = NaN

  constructor(readonly dryRun: boolean) {
    this.report = {
      examined: 0,
      deleted: 0,
      bytesFreed: 0,
      chosenByAge: 0,
      chosenByBudget: 0,
      kept: 0,
      protected: 0,
      renewed: 0,
      unknownAge: 0,
      recent: 0,
      totalBytes: 0,
      remainingBytes: 0,
      overBudget: false,
      variantsRemoved: 0,
      dryRun,
      interrupted: false,
      passes: 1
    }
  }

  listed(size: number): void {
    this.report.examined++
    this.report.totalBytes += size
  }

  spared(why: Spared): void {
    if (why === 'protected') this.report.protected++
    else if (why === 'unknown') this.report.unknownAge++
    else this.report.recent++
  }

  kept(count = 1): void {
    this.report.kept += count
  }

  /** One object chosen, by its last store's time (ms) and its size. */
  chosen(by: PruneCandidate['chosenBy'], time: number, size: number): void {
    if (by === 'age') this.report.chosenByAge++
    else this.report.chosenByBudget++
    if (!(time >= this.oldest)) this.oldest = time
    if (!(time <= this.newest)) this.newest = time
    if (this.dryRun) this.chosenBytes += size
  }

  deleted(size: number, variantsRemoved: number): void {
    this.report.deleted++
    this.report.bytesFreed += size
    this.report.variantsRemoved += variantsRemoved
  }

  renewed(): void {
    this.report.renewed++
  }

  /** The report, once the last deletion is done. */
  finish(budgetBytes: number | undefined, interrupted: boolean): PruneReport {
    const { report } = this
    if (!Number.isNaN(this.oldest))
      [report.oldestChosen, report.newestChosen] = [new Date(this.oldest), new Date(this.newest)]
    report.interrupted = interrupted
    if (this.dryRun) {
      report.wouldDelete = report.chosenByAge + report.chosenByBudget
      report.wouldFree = this.chosenBytes
    }
    report.remainingBytes = report.totalBytes - (this.dryRun ? this.chosenBytes : report.bytesFreed)
    report.overBudget = budgetBytes !== undefined && report.remainingBytes > budgetBytes
    return report
  }
}
