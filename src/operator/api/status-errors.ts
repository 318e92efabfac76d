/**
 * How the aggregated API answers: JSON, never cached, and every refusal a
 * `Status` object as every Kubernetes API answers it, so kubectl prints
 * "Error from server (Forbidden): …". Handlers throw an HttpError; the
 * server's listener turns it into the response.
 */
import type { ServerResponse } from 'node:http';

/** A refusal with its HTTP code, its Status `reason` (Forbidden, NotFound, …) and extra response headers. */
export class HttpError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function send(
  res: ServerResponse,
  code: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(code, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

export function sendStatus(res: ServerResponse, error: HttpError): void {
  send(
    res,
    error.code,
    {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: error.message,
      reason: error.reason,
      code: error.code,
    },
    error.headers,
  );
}
