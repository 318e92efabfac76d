/**
 * The answers of the aggregated API, one per resource, once the request was
 * authenticated, authorised and found to reach the leader: ImageVerdicts
 * and RunningImages read from the controller's memory (as objects, or as
 * the Table kubectl prints), PackageQueries created and answered at once,
 * one per user at a time. Nothing is fetched, nothing is stored.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isSigwatchError } from '../../base/errors.js';
import type { PackageRule } from '../../sbom/query.js';
import type { ImageEntry } from '../inventory/views.js';
import type { TrimmedPod } from '../pod.js';
import type { ContainerResult } from '../verdicts/policy-status.js';
import type { Access } from './access.js';
import type { UserInfo } from './front-proxy.js';
import {
  answerPackageQuery,
  PackageQueryForbidden,
  readPackageQuery,
  type PackageHit,
} from './package-query.js';
import { readBody, wantsTable, type Target } from './requests.js';
import {
  apiVersion,
  group,
  imageVerdict,
  list,
  runningImage,
  runningImageName,
  runningImageTable,
  verdictTable,
  version,
} from './resources.js';
import { HttpError, send } from './status-errors.js';

/** What the API answers from: the controller's pods and results. */
export interface VerdictSource {
  /** Pods with their results; one namespace, or all (undefined). */
  pods(namespace: string | undefined): Iterable<{ pod: TrimmedPod; results: readonly ContainerResult[] }>;
  pod(namespace: string, name: string): { pod: TrimmedPod; results: readonly ContainerResult[] } | undefined;
  images(): readonly ImageEntry[];
  /** Containers whose SBOMs list the package (in range, or not comparable); only in `namespaces` when given. */
  packageHits(rule: PackageRule, namespaces?: ReadonlySet<string>): readonly PackageHit[];
}

export interface ResourceHandlersOptions {
  readonly source: VerdictSource;
  /** Parses `purl` and `versions` into a rule; throws a SigwatchError (UsageError) on bad input. */
  readonly rule: (purl: string, versions: string | undefined) => PackageRule;
  readonly access: Access;
  readonly now: () => number;
}

export class ResourceHandlers {
  private readonly queriesInFlight = new Set<string>();

  constructor(private readonly options: ResourceHandlersOptions) {}

  /** Answers an allowed request for `target`; refusals are thrown as HttpError. */
  async answer(req: IncomingMessage, res: ServerResponse, target: Target, user: UserInfo): Promise<void> {
    const table = wantsTable(req);
    switch (target.info.name) {
      case 'imageverdicts':
        this.imageVerdicts(res, target, table);
        return;
      case 'runningimages':
        this.runningImages(res, target, table);
        return;
      case 'packagequeries':
        await this.packageQuery(req, res, user);
        return;
    }
  }

  private imageVerdicts(res: ServerResponse, target: Target, table: boolean): void {
    const { source, now } = this.options;
    if (target.name !== undefined) {
      const found = source.pod(target.namespace, target.name);
      if (found === undefined)
        throw new HttpError(404, 'NotFound', `imageverdicts.${group} "${target.name}" not found`);
      const object = imageVerdict(found.pod, found.results);
      send(res, 200, table ? verdictTable([object], now()) : object);
      return;
    }
    const objects = [...source.pods(target.namespace === '' ? undefined : target.namespace)]
      .map(({ pod, results }) => imageVerdict(pod, results))
      .sort((a, b) =>
        a.metadata.namespace === b.metadata.namespace
          ? a.metadata.name < b.metadata.name
            ? -1
            : 1
          : a.metadata.namespace < b.metadata.namespace
            ? -1
            : 1,
      );
    send(res, 200, table ? verdictTable(objects, now()) : list('ImageVerdict', objects));
  }

  private runningImages(res: ServerResponse, target: Target, table: boolean): void {
    let entries = this.options.source.images();
    if (target.name !== undefined) {
      entries = entries.filter((e) => runningImageName(e.image) === target.name);
      if (entries[0] === undefined)
        throw new HttpError(404, 'NotFound', `runningimages.${group} "${target.name}" not found`);
      send(res, 200, table ? runningImageTable(entries) : runningImage(entries[0]));
      return;
    }
    send(res, 200, table ? runningImageTable(entries) : list('RunningImage', entries.map(runningImage)));
  }

  private async packageQuery(req: IncomingMessage, res: ServerResponse, user: UserInfo): Promise<void> {
    const { source, access } = this.options;
    let query;
    try {
      query = readPackageQuery(await readBody(req), this.options.rule);
    } catch (error: unknown) {
      if (error instanceof HttpError) throw error;
      if (!isSigwatchError(error) && !(error instanceof SyntaxError)) throw error;
      throw new HttpError(400, 'BadRequest', error.message);
    }
    // One query per user at a time: each may ask up to 50 reviews, and the review budget is shared.
    if (this.queriesInFlight.has(user.username))
      throw new HttpError(429, 'TooManyRequests', 'a PackageQuery of yours is still running; try again', {
        'retry-after': '1',
      });
    this.queriesInFlight.add(user.username);
    const answer = await answerPackageQuery(
      query,
      (namespaces) => source.packageHits(query.rule, namespaces),
      (ns) =>
        access
          .decide(user, { verb: 'list', group, version, resource: 'imageverdicts', namespace: ns })
          .then((d) => d.allowed),
    )
      .catch((error: unknown) => {
        if (error instanceof PackageQueryForbidden)
          throw new HttpError(
            403,
            'Forbidden',
            `packagequeries.${group} is forbidden: User "${user.username}": ${error.message}`,
          );
        throw error;
      })
      .finally(() => {
        this.queriesInFlight.delete(user.username);
      });
    send(res, 201, { apiVersion, kind: 'PackageQuery', metadata: {}, spec: query.spec, status: answer });
  }
}
