import { ErrorBody, FuelpayError, REASON_CODES, REASONS, validate } from '@fuelpay/proto'
import t from 'tap'
import { errorResponse, refuse } from '../../src/errors/errors.ts'

t.test('every reason code becomes a valid error body with its HTTP status', async (t) => {
  for (const code of REASON_CODES) {
    const r = errorResponse(refuse(code), 'req1')
    t.equal(r.status, REASONS[code].httpStatus, code)
    t.equal(r.body.error.code, code)
    t.equal(r.body.error.number, REASONS[code].number)
    t.ok(validate(ErrorBody, r.body).ok, `${code} body matches ErrorBody`)
    t.equal(r.internal, false)
  }
})

t.test('framework errors map to stable codes and internal errors say nothing', async (t) => {
  const json = errorResponse(Object.assign(new Error('x'), { code: 'FST_ERR_CTP_INVALID_JSON_BODY', statusCode: 400 }))
  t.equal(json.body.error.code, 'BAD_JSON')
  const big = errorResponse(Object.assign(new Error('x'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }))
  t.equal(big.body.error.code, 'PAYLOAD_TOO_LARGE')
  const schema = errorResponse(Object.assign(new Error('body/pump must be integer'), { validation: [{}], statusCode: 400 }))
  t.equal(schema.body.error.code, 'SCHEMA_INVALID')
  t.match(schema.body.error.message, 'pump')
  const boom = errorResponse(new Error('secret connection string postgres://u:p@h'))
  t.equal(boom.status, 500)
  t.equal(boom.internal, true)
  t.notMatch(JSON.stringify(boom.body), 'postgres://', 'internal detail does not leak')
  t.ok(refuse('TIMEOUT') instanceof FuelpayError)
})
