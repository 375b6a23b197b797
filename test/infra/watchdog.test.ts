import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { expect, inject, it } from 'vitest'
import { alive } from './helpers/child.js'

const NODE_MJS = new URL('kubo/node.mjs', import.meta.url).href

it('a Kubo test node and its repo are gone within seconds of the process that started it being killed', async () => {
  // a test process killed before its teardown (SIGKILL, an OOM, a CI timeout) must not leave its servers running
  const script = `const { startKubo } = await import(${JSON.stringify(NODE_MJS)})
const node = await startKubo({ binary: ${JSON.stringify(inject('kuboBinary'))} })
console.log(JSON.stringify({ pid: node.pid, repo: node.repo }))`
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  const started = await new Promise<{ pid: number; repo: string }>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (data: Buffer) => {
      out += data.toString()
      if (out.includes('\n')) resolve(JSON.parse(out))
    })
    child.once('exit', code => reject(new Error(`the child exited (${code}) before its node answered`)))
  })
  expect(alive(started.pid)).toBe(true)
  expect(existsSync(started.repo)).toBe(true)
  child.kill('SIGKILL')
  const deadline = Date.now() + 10_000
  while ((alive(started.pid) || existsSync(started.repo)) && Date.now() < deadline)
    await new Promise(resolve => setTimeout(resolve, 100))
  expect(alive(started.pid)).toBe(false)
  expect(existsSync(started.repo)).toBe(false)
}, 60_000)
