/**
 * One error handler (DESIGN §5): `{error: {code, message, details}}`.
 * 4xx say what was wrong and what to send instead; 5xx log the context and
 * tell the client only that the server failed.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { AppError } from '../ci/errors.js';
import type { Redactor } from '../ci/redact.js';

export function errorBody(code: string, message: string, details?: unknown) {
  return { error: { code, message, ...(details === undefined ? {} : { details }) } };
}

export function registerErrorHandler(app: FastifyInstance, redactor: Redactor) {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof AppError) return reply.status(err.status).send(errorBody(err.code, redactor.mask(err.message), err.details));
    if (hasZodFastifySchemaValidationErrors(err)) {
      const issues = err.validation.map((v) => ({
        path: `${err.validationContext ?? 'body'}${v.instancePath.replace(/\//g, '.')}`,
        message: redactor.mask(v.message ?? 'invalid'),
      }));
      const first = issues[0];
      return reply.status(422).send(errorBody('invalid_input', `${first ? `${first.path}: ${first.message}` : 'invalid input'}`, { issues }));
    }
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const hints: Record<string, string> = {
        FST_ERR_CTP_INVALID_MEDIA_TYPE: 'send Content-Type: application/json',
        FST_ERR_CTP_BODY_TOO_LARGE: 'the body is too large; send a smaller JSON document',
        FST_ERR_CTP_EMPTY_JSON_BODY: 'send a JSON object body',
        FST_ERR_CTP_INVALID_JSON_BODY: 'send valid JSON',
      };
      const hint = err.code ? hints[err.code] : undefined;
      const message = redactor.mask(err.message);
      return reply.status(status).send(errorBody(status === 429 ? 'rate_limited' : (err.code ?? 'bad_request').toLowerCase(), hint ? `${message}; ${hint}` : message));
    }
    request.log.error({ err: { message: redactor.mask(err.message), stack: err.stack } }, 'request failed');
    return reply.status(500).send(errorBody('internal_error', 'The server failed to handle this request; the details are in the server log.'));
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send(errorBody('not_found', `No route ${request.method} ${request.url.split('?')[0]}; see /docs for the API.`)),
  );
}
