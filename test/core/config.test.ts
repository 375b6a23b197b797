import { describe, expect, it } from 'vitest'
import {
  defined,
  readAuth,
  readBoolean,
  readChoice,
  readInteger,
  readMode,
  readString,
  readUrl
} from '../../src/core/config.js'

const env = {
  EMPTY: '',
  SPACES: '  ',
  YES: ' yes ',
  OFF: 'off',
  MAYBE: 'maybe',
  TEN: '10',
  NEG: '-1',
  FLOAT: '1.5',
  MODE: '02775',
  BAD_MODE: '999',
  URL: 'http://127.0.0.1:5001',
  FTP: 'ftp://x',
  BEARER: 'Bearer abc.def',
  PAIR: 'user:secret',
  SECRET: 'just-a-secret',
  S3: 's3'
}

describe('environment variables, each validated', () => {
  it('unset and empty are the same: undefined, so that defaults apply', () => {
    expect([
      readString(env, 'NONE'),
      readString(env, 'EMPTY'),
      readString(env, 'SPACES'),
      readBoolean(env, 'EMPTY'),
      readInteger(env, 'EMPTY', 1)
    ]).toEqual([undefined, undefined, undefined, undefined, undefined])
    expect(defined({ a: 1, b: undefined, c: false })).toEqual({ a: 1, c: false })
  })

  it('booleans, numbers, modes, choices and URLs; a malformed value is ERR_CONFIG naming the variable', () => {
    expect([
      readBoolean(env, 'YES'),
      readBoolean(env, 'OFF'),
      readInteger(env, 'TEN', 1, 100),
      readMode(env, 'MODE'),
      readChoice(env, 'S3', ['fs', 's3'] as const),
      readUrl(env, 'URL')?.port
    ]).toEqual([true, false, 10, 0o2775, 's3', '5001'])
    const bad: Array<() => unknown> = [
      () => readBoolean(env, 'MAYBE'),
      () => readInteger(env, 'NEG', 0),
      () => readInteger(env, 'FLOAT', 0),
      () => readInteger(env, 'TEN', 11),
      () => readMode(env, 'BAD_MODE'),
      () => readChoice(env, 'MAYBE', ['fs']),
      () => readUrl(env, 'FTP')
    ]
    for (const read of bad)
      expect(read).toThrow(
        expect.objectContaining({ code: 'ERR_CONFIG', message: expect.stringMatching(/^[A-Z_]+: /) })
      )
  })

  it('an authorization value: Bearer, Basic or user:password; anything else refused without echoing it', () => {
    expect([readAuth(env, 'BEARER'), readAuth(env, 'PAIR')]).toEqual(['Bearer abc.def', 'user:secret'])
    let message = ''
    try {
      readAuth(env, 'SECRET')
    } catch (err) {
      message = (err as Error).message
    }
    expect(message).toContain('SECRET')
    expect(message).not.toContain('just-a-secret')
  })
})
