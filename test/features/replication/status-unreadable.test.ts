// `sai-images status` counts the frames other writers put on the primary that nobody queued yet. A folder it cannot
// read (another user's, 0700) must make that count say it is incomplete, and which folder and why, with its own
// exit code: never a smaller number that reads as "all queued", nor a crash. Run as `nobody` in a real child process
// (root reads every folder), on real folders.
import { chmodSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { asRoot, cliAsNobody, closeFolder, foreignFrames } from './as-nobody.js'

describe('status over a primary folder it cannot read', () => {
  it.skipIf(!asRoot)('counts the others, names the folder and the error, and exits 14', async () => {
    const { root, replica, frames } = await foreignFrames(4)
    const upper = frames[0]!.upper
    const leaf = `${frames[1]!.upper}/${frames[1]!.sha256.slice(2, 4)}`
    closeFolder(root, upper, 0o700)
    closeFolder(root, leaf, 0o700) // listed as changed, its frames unreadable
    const status = (): { code: number | null; answer: any } => {
      const run = cliAsNobody(root, replica, ['status', '--json'])
      return { code: run.code, answer: JSON.parse(run.stdout) }
    }
    let { code, answer } = status()
    expect(code).toBe(14)
    expect(answer.unseen).toMatchObject({ frames: 2, incomplete: { folder: upper, code: 'EACCES' } }) // the first
    expect(answer.alerts).toEqual([expect.objectContaining({ condition: 'unreadable', exit: 14 })])
    const text = cliAsNobody(root, replica, ['status'])
    expect(text.code).toBe(14)
    expect(text.stdout).toContain('not yet queued: at least 2 frames')
    expect(text.stdout).toContain(`INCOMPLETE: cannot read the primary's folder ${upper} (EACCES: permission denied`)
    expect(text.stdout).toContain('ALERT (exit 14): status cannot read')

    chmodSync(join(root, upper), 0o755)
    ;({ code, answer } = status())
    expect(code).toBe(14)
    expect(answer.unseen).toMatchObject({ frames: 3, incomplete: { folder: leaf, code: 'EACCES' } })
    chmodSync(join(root, leaf), 0o755)
    ;({ code, answer } = status())
    expect(code).toBe(0)
    expect(answer.unseen).toMatchObject({ frames: 4, incomplete: null })
    expect(answer.alerts).toEqual([])
  })
})
