// `status` gives one exit code when several conditions hold. A monitor keyed on 13 must hear of a frame lost even
// when a folder is also unreadable (14) or a replica unreachable (11): a known loss outranks every other condition.
import { describe, expect, it } from 'vitest'
import { exitOf, STATUS_EXIT } from '../../src/cli/commands/status.js'

const alerts = (...codes: number[]) => codes.map(exit => ({ exit }))

describe('status exit when several conditions hold', () => {
  it('13 (a frame lost) wins over every other code, 14 included', () => {
    expect(exitOf(alerts(STATUS_EXIT.unreadable, STATUS_EXIT.lost))).toBe(13)
    expect(exitOf(alerts(STATUS_EXIT.lost, STATUS_EXIT.unreachable, STATUS_EXIT.backlog))).toBe(13)
  })
  it('otherwise the highest code, and 0 with no alert', () => {
    expect(exitOf(alerts(STATUS_EXIT.backlog, STATUS_EXIT.belowWanted, STATUS_EXIT.unreachable))).toBe(12)
    expect(exitOf(alerts(STATUS_EXIT.belowWanted, STATUS_EXIT.unreadable))).toBe(14)
    expect(exitOf([])).toBe(0)
  })
})
