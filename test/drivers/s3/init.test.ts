/**
 * The S3 driver's options (init.ts): the bucket and the prefix are checked before any request,
 * as `ERR_CONFIG` naming the setting they came from; the prefix is normalised to end with `/`.
 */
import { describe, expect, it } from 'vitest'
import { S3Driver } from '../../../src/drivers/s3/index.js'
import { checkedPlace } from '../../../src/drivers/s3/init.js'

const endpoint = 'http://127.0.0.1:9' // never asked: every case fails (or succeeds) before a request

describe('the S3 driver options (init.ts)', () => {
  it('a prefix ends with one /, an empty one stays empty', () => {
    expect(checkedPlace({ bucket: 'frames', prefix: 'cam1' })).toEqual({ bucket: 'frames', prefix: 'cam1/' })
    expect(checkedPlace({ bucket: 'frames', prefix: 'site/cam1/' })).toEqual({ bucket: 'frames', prefix: 'site/cam1/' })
    expect(checkedPlace({ bucket: 'frames' })).toEqual({ bucket: 'frames', prefix: '' })
    const storage = new S3Driver({ endpoint, bucket: 'frames', prefix: 'cam1' })
    expect(storage.prefix).toBe('cam1/')
    expect(storage.location).toBe('s3://frames/cam1/ at http://127.0.0.1:9')
  })

  it('a bucket that is no S3 bucket name is ERR_CONFIG naming the setting, before any request', () => {
    for (const bucket of ['', 'ab', 'Frames', '-frames', 'frames_1', 'a'.repeat(64), undefined]) {
      expect(() => checkedPlace({ bucket } as never), String(bucket)).toThrow(
        expect.objectContaining({ code: 'ERR_CONFIG', message: expect.stringContaining('bucket') })
      )
    }
    expect(() => new S3Driver({ endpoint, bucket: 'Not_A_Bucket' })).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG' })
    )
  })

  it('a prefix that could leave the prefix (a leading /, .., //, odd characters) is ERR_CONFIG', () => {
    for (const prefix of ['/frames', 'a/../b', 'a//b', 'cam 1', 'cam?1']) {
      expect(() => checkedPlace({ bucket: 'frames', prefix }), prefix).toThrow(
        expect.objectContaining({ code: 'ERR_CONFIG', message: expect.stringContaining(JSON.stringify(prefix)) })
      )
    }
  })

  it('an endpoint with a user or password in it is ERR_CONFIG that shows neither (S3 signs with keys)', () => {
    for (const endpoint of ['http://AKIAEXAMPLE:hunter2secret@127.0.0.1:9', 'https://hunter2secret@s3.example.org']) {
      let thrown: unknown
      try {
        new S3Driver({ endpoint, bucket: 'frames' })
      } catch (err) {
        thrown = err
      }
      expect(thrown, endpoint).toMatchObject({ code: 'ERR_CONFIG', option: 'endpoint' })
      expect(`${(thrown as Error).message} ${JSON.stringify(thrown)}`).not.toMatch(/hunter2secret|AKIAEXAMPLE/)
    }
    // an @ in the path is no user
    expect(new S3Driver({ endpoint: 'http://127.0.0.1:9/gw@1', bucket: 'frames' }).location).toContain('gw@1')
  })

  it('the error names the option (`option` for the factory and the CLI to name it as the user set it)', () => {
    expect(() => checkedPlace({ bucket: 'x' })).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG', option: 'bucket', setting: 'the bucket option' })
    )
    expect(() => checkedPlace({ bucket: 'frames', prefix: '/x' })).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG', option: 'prefix', setting: 'the prefix option' })
    )
  })
})
