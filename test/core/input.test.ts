import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { decodeImageString } from '../../src/core/input.js'
import { FilesystemDriver } from '../../src/drivers/fs/index.js'
import { testJpeg } from '../../src/testing/index.js'
import { strayTemps, tempDir } from '../infra/helpers/tmp.js'

const limits = { maxBytes: 1_000_000, allowNonImage: false }

describe('decodeImageString: strict base64 and data URLs', () => {
  const jpeg = testJpeg('base64')
  it.each([
    ['padded base64', jpeg.toString('base64')],
    ['base64url', jpeg.toString('base64url')],
    ['line-wrapped base64', jpeg.toString('base64').replace(/.{64}/g, '$&\n')],
    ['a data URL', `data:image/jpeg;base64,${jpeg.toString('base64')}`],
    ['a data URL with parameters', `data:image/jpeg;name=frame.jpg;BASE64,${jpeg.toString('base64')}`]
  ])('decodes %s', (_name, text) => {
    expect(Buffer.compare(decodeImageString(text, limits.maxBytes), jpeg)).toBe(0)
  })

  it.each([
    ['a character outside the alphabet', 'QUJD*A=='],
    ['padding in the middle', 'QU=DQUJD'],
    ['a stray length', 'QUJDQ'],
    ['too much padding', 'QQ==='],
    ['mixed alphabets', 'QU+D_A=='],
    ['a non-base64 data URL', 'data:image/jpeg,abc'],
    ['a data URL without a comma', 'data:image/jpeg;base64'],
    ['a file path', './frames/cam1.jpg']
  ])('rejects %s with ERR_INVALID_INPUT', (_name, text) => {
    expect(() => decodeImageString(text, limits.maxBytes)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_INPUT' })
    )
  })

  it('rejects oversize base64 before decoding it', () => {
    expect(() => decodeImageString('A'.repeat(4000), 2999)).toThrow(
      expect.objectContaining({ code: 'ERR_TOO_LARGE', limit: 2999 })
    )
  })
})

describe('a file read as input ({ path }) that changes while it is read', () => {
  // A real writer in another process appends to the frame's file every millisecond, as a writer still at work does.
  it.each([
    ['read whole (12 MiB)', 12],
    ['streamed (20 MiB)', 20]
  ])('%s: refused, ERR_INVALID_INPUT, and nothing is stored', async (_name, mib) => {
    const dir = await tempDir('sai-growing')
    const path = join(dir, 'growing.jpg')
    await writeFile(path, testJpeg('still being written', mib * 2 ** 20))
    const script = `const fs = require('node:fs'); const fd = fs.openSync(process.argv[1], 'a');
      setInterval(() => fs.writeSync(fd, Buffer.alloc(4096, 7)), 1); console.log('appending')`
    const child = spawn(process.execPath, ['-e', script, path], { stdio: ['ignore', 'pipe', 'inherit'] })
    try {
      await new Promise(resolve => child.stdout!.once('data', resolve))
      const storage = new FilesystemDriver({ root: await tempDir(), maxBytes: 64 * 2 ** 20 })
      const outcomes: Array<'stored' | 'refused'> = []
      for (let attempt = 0; attempt < 5; attempt++) {
        try {
          await storage.store({ path })
          outcomes.push('stored') // read between two appends: a whole snapshot of the file, which is right
        } catch (err) {
          expect(err).toMatchObject({
            code: 'ERR_INVALID_INPUT',
            message: expect.stringMatching(/changed while it was read/)
          })
          outcomes.push('refused')
        }
      }
      expect(outcomes).toContain('refused')
      let objects = 0
      for await (const _ of storage.list()) objects++
      expect(objects).toBe(outcomes.filter(o => o === 'stored').length)
      expect(await strayTemps(storage)).toEqual([])
    } finally {
      child.kill('SIGKILL')
    }
  })
})
