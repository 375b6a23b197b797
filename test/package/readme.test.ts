// The README's inference-wrapper snippet, taken from the README as written and run against the
// built package, in Express 4 (the dashboard's version) and with node:http: a bad image is a 400
// with the error's code, and the process never ends.
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../src/drivers/fs/index.js'
import { testJpeg } from '../../src/testing/index.js'
import { ROOT } from '../infra/helpers/consumer.js'
import { tempDir } from '../infra/helpers/tmp.js'
import { application, PACKAGE } from './package.js'

/** The first ```js block under the README's heading that starts with `heading`. */
async function snippet(heading: string): Promise<string> {
  const readme = await readFile(join(PACKAGE, 'README.md'), 'utf8')
  const start = readme.indexOf(`\n## ${heading}`)
  expect(start).toBeGreaterThan(0)
  const block = /```js\n([\s\S]*?)```/.exec(readme.slice(start))
  expect(block).not.toBeNull()
  return block![1]!
}

// what the snippet leaves to the application: the model. The rest is the README's, unchanged;
// Node's default for an unhandled rejection (the process ends) stays in force.
const MODEL = "const runInference = async bytes => ({ model: 'stand-in', bytes: bytes.length, detections: [] })\n"
const START = `
import { app, server } from './wrapper.mjs'
import { createRequire } from 'node:module'
const listening = await Promise.all([app.listen(0, '127.0.0.1'), server.listen(0, '127.0.0.1')].map(s => new Promise(resolve => s.once('listening', () => resolve(s.address().port)))))
console.log(JSON.stringify({ express: listening[0], http: listening[1], expressVersion: createRequire(import.meta.url)('express/package.json').version }))
`

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex')

describe("the README's inference wrapper, as written", () => {
  let child: ChildProcess
  let root: string
  let ports: { express: number; http: number; expressVersion: string }
  let stderr = ''
  beforeAll(async () => {
    const code = await snippet('Inference wrapper')
    const app = await application({ 'wrapper.mjs': `${MODEL}${code}\nexport { app, server }\n`, 'start.mjs': START }, [
      'express'
    ])
    root = await tempDir()
    child = spawn(process.execPath, ['start.mjs'], { cwd: app, env: { ...process.env, SAI_IMAGE_STORAGE_PATH: root } })
    child.stderr!.on('data', chunk => {
      stderr += chunk
    })
    const first = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve)
      child.once('exit', code => reject(new Error(`the snippet's server exited (${code}): ${stderr}`)))
    })
    ports = JSON.parse(first)
  }, 60_000)
  afterAll(() => {
    child?.kill()
  })

  const post = async (port: number, init: RequestInit): Promise<{ status: number; body: any }> => {
    const response = await fetch(`http://127.0.0.1:${port}/infer`, { method: 'POST', ...init })
    return { status: response.status, body: await response.json() }
  }
  const json = (body: unknown): RequestInit => ({
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body)
  })

  it("runs on Express 4, the dashboard's version", () => {
    expect(ports.expressVersion).toMatch(/^4\./)
    expect(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).devDependencies.express).toMatch(/^\^?4\./)
  })

  it('Express: a frame as base64 and as a data URL is stored, and the model gets exactly its bytes', async () => {
    const frame = testJpeg('readme express', 30_000)
    for (const image of [frame.toString('base64'), `data:image/jpeg;base64,${frame.toString('base64')}`]) {
      const answer = await post(ports.express, json({ image }))
      expect(answer).toEqual({
        status: 200,
        body: {
          model: 'stand-in',
          bytes: frame.length,
          detections: [],
          image_hash: sha256(frame),
          image_path: new FilesystemDriver({ root }).pathOf(sha256(frame))
        }
      })
    }
  })

  it('Express: a bad image, no image, or an object instead of a string is a 400 with the code, and the server lives on', async () => {
    for (const body of [
      { image: Buffer.from('hello').toString('base64') },
      { image: 'not base64 at all!' },
      {},
      { image: { path: '/etc/hostname' } },
      { image: { path: join(root, '..') } }
    ]) {
      const answer = await post(ports.express, json(body))
      expect({ body, status: answer.status, code: answer.body.error }).toEqual({
        body,
        status: 400,
        code: 'ERR_INVALID_INPUT'
      })
      expect(answer.body.message).not.toMatch(/\/etc\/hostname|Cannot read/) // the server's own files are never read
      expect(answer.body.message).not.toMatch(/SAI_|allowNonImage|option/) // nor its settings named (issue 34)
    }
    expect(child.exitCode).toBe(null)
    const frame = testJpeg('readme after bad ones')
    expect((await post(ports.express, json({ image: frame.toString('base64') }))).status).toBe(200)
  })

  it('node:http: the request body is the image; a bad one is a 400 with the code, and the server lives on', async () => {
    const frame = testJpeg('readme http', 20_000)
    expect(await post(ports.http, { body: new Uint8Array(frame) })).toMatchObject({
      status: 200,
      body: { bytes: frame.length, image_hash: sha256(frame) }
    })
    expect(await post(ports.http, { body: 'hello, not an image' })).toMatchObject({
      status: 400,
      body: { error: 'ERR_INVALID_INPUT' }
    })
    expect(await post(ports.http, { body: '' })).toMatchObject({ status: 400, body: { error: 'ERR_INVALID_INPUT' } })
    expect(child.exitCode).toBe(null)
    expect((await post(ports.http, { body: new Uint8Array(frame) })).body.image_hash).toBe(sha256(frame))
  })

  it('the stored frames are whole, and nothing went to the log', async () => {
    expect((await new FilesystemDriver({ root }).verify()).problems).toEqual([])
    expect(stderr).toBe('')
  })
})
