/**
 * Whether the user may: the API server's own answer to a SubjectAccessReview
 * (authorizer.ts), turned into the refusals kubectl knows. Never "allowed"
 * when the API server cannot be asked: a busy review budget is a 429, a
 * failed review a 503.
 */
import type { Logger } from '../kube/logger.js';
import { AuthorizerBusy, type Authorizer, type Decision, type ResourceAttributes } from './authorizer.js';
import type { UserInfo } from './front-proxy.js';
import { group } from './resources.js';
import { HttpError } from './status-errors.js';

/** The Forbidden message the API server itself would give for these attributes. */
function forbidden(user: UserInfo, attributes: ResourceAttributes, reason: string): HttpError {
  const scope =
    attributes.namespace === '' ? 'at the cluster scope' : `in the namespace "${attributes.namespace}"`;
  return new HttpError(
    403,
    'Forbidden',
    `${attributes.resource}.${group}${attributes.name === undefined ? '' : ` "${attributes.name}"`} is forbidden: User "${user.username}" cannot ${attributes.verb} resource "${attributes.resource}" in API group "${group}" ${scope}${reason === '' ? '' : `: ${reason}`}`,
  );
}

export class Access {
  constructor(
    private readonly authorizer: Pick<Authorizer, 'authorize'>,
    private readonly logger: Logger,
  ) {}

  /** The API server's answer; never "allowed" when it cannot be asked. */
  async decide(user: UserInfo, attributes: ResourceAttributes): Promise<Decision> {
    try {
      return await this.authorizer.authorize(user, attributes);
    } catch (error: unknown) {
      if (error instanceof AuthorizerBusy)
        throw new HttpError(429, 'TooManyRequests', 'too many requests; try again', { 'retry-after': '1' });
      this.logger.warn('aggregated API: access review failed', {
        error: error instanceof Error ? error.message : String(error),
      });
      throw new HttpError(
        503,
        'ServiceUnavailable',
        'the API server could not review the request; try again',
      );
    }
  }

  /** Throws a 403 HttpError unless the user may. */
  async check(user: UserInfo, attributes: ResourceAttributes): Promise<void> {
    const decision = await this.decide(user, attributes);
    if (!decision.allowed) throw forbidden(user, attributes, decision.reason);
  }
}
