/**
 * The API server's audit log of the test environment (hack/testenv writes
 * one for writes to pods, Events, Sigwatch's resources and PolicyReports): who wrote what,
 * by User-Agent, as the server saw it — not as the operator reports it.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { testEnv } from './testenv.js';

export interface AuditedWrite {
  readonly verb: string;
  readonly userAgent: string;
  readonly resource: string;
  readonly subresource?: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly code: number;
  /** requestReceivedTimestamp, epoch ms. */
  readonly at: number;
}

interface RawAuditEvent {
  verb?: string;
  userAgent?: string;
  stage?: string;
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number };
  requestReceivedTimestamp?: string;
}

/** Every completed write in the audit log so far. */
export async function auditedWrites(): Promise<AuditedWrite[]> {
  const text = await readFile(join(testEnv().dir, 'logs', 'audit.log'), 'utf8');
  const writes: AuditedWrite[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const e = JSON.parse(line) as RawAuditEvent;
    if (e.stage !== 'ResponseComplete' || e.objectRef?.resource === undefined) continue;
    writes.push({
      verb: e.verb ?? '',
      userAgent: e.userAgent ?? '',
      resource: e.objectRef.resource,
      ...(e.objectRef.subresource === undefined ? {} : { subresource: e.objectRef.subresource }),
      ...(e.objectRef.namespace === undefined ? {} : { namespace: e.objectRef.namespace }),
      ...(e.objectRef.name === undefined ? {} : { name: e.objectRef.name }),
      code: e.responseStatus?.code ?? 0,
      at: Date.parse(e.requestReceivedTimestamp ?? ''),
    });
  }
  return writes;
}
