/**
 * Typed errors with stable codes. Routes map `AppError` to DESIGN §5's JSON
 * error body; anything else is a 500 whose details stay in the server log.
 */

export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AppError';
  }
}

export const notFound = (what: string, hint: string) => new AppError(404, 'not_found', `${what} was not found; ${hint}`);
export const unprocessable = (message: string, details?: unknown) => new AppError(422, 'invalid_input', message, details);
export const conflict = (message: string, details?: unknown) => new AppError(409, 'conflict', message, details);

/** A failure talking to the CI server. See CiProvider for the retry contract. */
export class ProviderError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly retryable: boolean,
    readonly httpStatus: number | null = null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ProviderError';
  }
}

/** Turns anything thrown into an Error, keeping the original as `cause`. */
export function coerceError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  return new Error(typeof thrown === 'string' ? thrown : JSON.stringify(thrown), { cause: thrown });
}
