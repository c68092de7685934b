import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  EmulatorKit,
  readBody,
  serveOnLoopback,
  type KitFault,
  type KitListener,
  type KitPhase,
  type KitRequest,
} from '../../emulator-kit';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Clock, EmulatorHandle } from '../../types';
import { systemClock } from '../../clock';
import { expectedSigV4Signature, parseAmzDate, parseSigV4Authorization, sameHex } from './sigv4';

/**
 * An AWS Secrets Manager emulator: a real HTTP server on loopback speaking the awsJson1.1
 * protocol (`POST /`, `X-Amz-Target: secretsmanager.<Operation>`) that the real
 * `@aws-sdk/client-secrets-manager` client and the `aws` CLI talk to through `endpoint` /
 * `--endpoint-url`. It checks SigV4 signatures against the credentials it knows, and keeps AWS's
 * version-stage rules (shared/PROVIDERS.md):
 *
 * - PutSecretValue: ClientRequestToken becomes the VersionId; the same token with the same value
 *   is a no-op, with another value ResourceExistsException; VersionStages omitted → AWSCURRENT.
 * - The first version of a secret (CreateSecret with a value, or the first PutSecretValue)
 *   always gets AWSCURRENT, whatever VersionStages says (AWS API reference, PutSecretValue).
 * - A stage lives on at most one version; attaching it elsewhere moves it. Moving AWSCURRENT
 *   moves AWSPREVIOUS to the version that lost AWSCURRENT.
 * - UpdateSecretVersionStage fails with InvalidParameterException when the stage is not on
 *   RemoveFromVersionId, or is attached to another version and RemoveFromVersionId is missing.
 * - A version without stages is deprecated: hidden from DescribeSecret and (by default)
 *   ListSecretVersionIds, and deleted once the secret holds more than `maxVersions` versions
 *   and it is older than 24 hours; a write that would exceed the quota fails with
 *   LimitExceededException, as AWS documents for PutSecretValue called too often.
 *
 * Time (CreatedDate, the 24-hour rule, deletion dates) comes from the injected clock; the
 * signature's 15-minute window uses the wall clock, because the SDK signs with the wall clock.
 */

export const SECRETS_MANAGER_ACCOUNT = '123456789012';
const JSON_TYPE = 'application/x-amz-json-1.1';
const DAY_MS = 86_400_000;
const SIGNATURE_WINDOW_MS = 15 * 60_000;
const NAME_PATTERN = /^[A-Za-z0-9/_+=.@-]{1,512}$/;

export type SecretsManagerOperation =
  | 'CreateSecret'
  | 'DescribeSecret'
  | 'GetSecretValue'
  | 'BatchGetSecretValue'
  | 'PutSecretValue'
  | 'UpdateSecretVersionStage'
  | 'ListSecrets'
  | 'ListSecretVersionIds'
  | 'TagResource'
  | 'UntagResource'
  | 'DeleteSecret';

/**
 * A fault from the emulator kit. `reply` faults: status 400 is answered as ThrottlingException,
 * 500 InternalServiceError, 503 ServiceUnavailable, unless `type` names another AWS error (e.g.
 * AccessDeniedException, not retryable). `drop` destroys the connection unanswered;
 * `apply-then-drop` performs the request, then destroys the connection.
 */
export type SecretsManagerFault = KitFault<SecretsManagerOperation>;

export interface SecretsManagerEmulatorOptions {
  clock?: Clock;
  /** Access key id → secret access key. Default: `{ sandbox: 'sandbox' }`. */
  credentials?: Record<string, string>;
  latencyMs?: number;
  port?: number;
  /** Versions per secret before LimitExceededException (AWS: 100). */
  maxVersions?: number;
}

/** A request as the emulator saw it; `secretId` is the SecretId or Name it named. */
export interface RecordedSmRequest extends KitRequest<SecretsManagerOperation> {
  secretId?: string;
}

export interface EmulatedVersion {
  versionId: string;
  stages: string[];
  createdDate: number;
  /** The stored SecretString. Tests only: never log it. */
  secretString?: string;
}

export interface SecretsManagerEmulator extends EmulatorHandle {
  /** The kit's fault queue: push faults to inject them. */
  readonly faults: SecretsManagerFault[];
  latencyMs: number;
  readonly requests: readonly RecordedSmRequest[];
  /** The next `n` requests (for `operation`, or any) get their connection destroyed unanswered. */
  dropConnections(n: number, operation?: SecretsManagerOperation): void;
  /** Requests received for `operation` (all when absent), answered or not. */
  count(operation?: string): number;
  /** Requests per operation. */
  counts(): Record<string, number>;
  /** Every version of a secret, deprecated ones included, oldest first; undefined when missing. */
  versions(name: string): EmulatedVersion[] | undefined;
  secretNames(): string[];
  tags(name: string): Record<string, string> | undefined;
  /**
   * The kit's triggers: `listener` runs when a request for `operation` is received (after its
   * faults, before it acts) or once it succeeded (`applied`, answer not yet sent); the request
   * waits for it. `resource` is the SecretId; `labels` the VersionStages a PutSecretValue writes
   * or the VersionStage an UpdateSecretVersionStage moves. Returns `off`.
   */
  on(operation: SecretsManagerOperation | '*', phase: KitPhase, listener: KitListener<SecretsManagerOperation>): () => void;
}

interface StoredVersion {
  versionId: string;
  value: { SecretString?: string; SecretBinary?: string };
  stages: Set<string>;
  createdDate: number;
}

interface StoredSecret {
  arn: string;
  name: string;
  description?: string;
  kmsKeyId?: string;
  tags: Map<string, string>;
  versions: Map<string, StoredVersion>;
  createdDate: number;
  lastChangedDate: number;
  deletedDate?: number;
}

class SmError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
    readonly retryAfterSec?: number,
  ) {
    super(message);
  }
}

/** A `reply` fault as AWS would answer it (awsJson1.1 error body). */
function faultError(fault: SecretsManagerFault): SmError {
  const status = fault.status ?? 500;
  if (fault.type) return new SmError(fault.type, `${fault.type} (injected)`, status, fault.retryAfterSec);
  if (status === 400 || status === 429)
    return new SmError('ThrottlingException', 'Rate exceeded (injected)', status, fault.retryAfterSec);
  if (status === 503) return new SmError('ServiceUnavailable', 'Service unavailable (injected)', 503, fault.retryAfterSec);
  return new SmError('InternalServiceError', 'Internal service error (injected)', status, fault.retryAfterSec);
}

const notFound = (message = "Secrets Manager can't find the specified secret.") =>
  new SmError('ResourceNotFoundException', message);
const invalidParameter = (message: string) => new SmError('InvalidParameterException', message);
const invalidRequest = (message: string) => new SmError('InvalidRequestException', message);

type Body = Record<string, unknown>;

class SecretsManagerServer {
  readonly kit: EmulatorKit<SecretsManagerOperation>;
  private readonly clock: Clock;
  private readonly credentials: Record<string, string>;
  private readonly maxVersions: number;
  private readonly secrets = new Map<string, StoredSecret>();

  constructor(options: SecretsManagerEmulatorOptions) {
    this.clock = options.clock ?? systemClock;
    this.credentials = options.credentials ?? { sandbox: 'sandbox' };
    this.kit = new EmulatorKit({ latencyMs: options.latencyMs ?? 0 });
    this.maxVersions = options.maxVersions ?? 100;
  }

  versions(name: string): EmulatedVersion[] | undefined {
    const secret = this.secrets.get(name);
    if (!secret) return undefined;
    return [...secret.versions.values()].map((v) => ({
      versionId: v.versionId,
      stages: [...v.stages],
      createdDate: v.createdDate,
      ...(v.value.SecretString === undefined ? {} : { secretString: v.value.SecretString }),
    }));
  }

  secretNames(): string[] {
    return [...this.secrets.keys()].sort();
  }

  tags(name: string): Record<string, string> | undefined {
    const secret = this.secrets.get(name);
    return secret ? Object.fromEntries(secret.tags) : undefined;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.startsWith('secretsmanager.') ? target.slice('secretsmanager.'.length) : target || '(none)';
    const raw = await readBody(req);
    const record: RecordedSmRequest = await this.kit.begin(operation);
    let status = 200;
    let reply: unknown;
    let dropAfter = false;
    try {
      const body = this.parse(req, raw);
      const id = body.SecretId ?? body.Name;
      if (typeof id === 'string') record.secretId = record.resource = id;
      const fault = this.kit.take(operation);
      if (fault?.kind === 'drop') {
        req.socket.destroy();
        return;
      }
      if (fault) throw faultError(fault);
      const region = this.authenticate(req, raw);
      const event = { operation, ...(typeof id === 'string' ? { resource: id } : {}), labels: stagesOf(body) };
      await this.kit.emit({ ...event, phase: 'received' });
      reply = this.dispatch(operation, body, region);
      await this.kit.emit({ ...event, phase: 'applied' });
      dropAfter = this.kit.take(operation, 'apply-then-drop') !== undefined;
    } catch (err) {
      const e = err instanceof SmError ? err : new SmError('InternalServiceError', 'emulator bug: ' + String(err), 500);
      status = e.status;
      record.error = e.type;
      reply = { __type: e.type, message: e.message };
      res.setHeader('x-amzn-ErrorType', e.type);
      if (e.retryAfterSec !== undefined) res.setHeader('Retry-After', String(e.retryAfterSec));
    }
    if (dropAfter) {
      req.socket.destroy();
      return;
    }
    record.status = status;
    res.statusCode = status;
    res.setHeader('Content-Type', JSON_TYPE);
    res.setHeader('x-amzn-RequestId', randomUUID());
    res.setHeader('Date', new Date().toUTCString());
    res.end(JSON.stringify(reply));
  }

  private parse(req: IncomingMessage, raw: Buffer): Body {
    if (req.method !== 'POST' || (req.url ?? '/').split('?')[0] !== '/') {
      throw new SmError('UnknownOperationException', 'Only POST / is served', 404);
    }
    const type = String(req.headers['content-type'] ?? '');
    if (!type.startsWith(JSON_TYPE)) throw new SmError('SerializationException', `Content-Type must be ${JSON_TYPE}`);
    if (raw.length === 0) return {};
    try {
      const parsed: unknown = JSON.parse(raw.toString('utf8'));
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Body;
    } catch {
      // Reported below.
    }
    throw new SmError('SerializationException', 'The request body is not a JSON object');
  }

  /** SigV4 over the request as received, against the emulator's credentials. */
  private authenticate(req: IncomingMessage, raw: Buffer): string {
    const header = req.headers.authorization;
    if (!header) throw new SmError('MissingAuthenticationTokenException', 'Missing Authentication Token', 400);
    const auth = parseSigV4Authorization(header);
    if (!auth || !auth.signedHeaders.includes('host') || !auth.signedHeaders.includes('x-amz-date')) {
      throw new SmError(
        'IncompleteSignatureException',
        'Authorization header requires Credential, SignedHeaders (with host and x-amz-date) and Signature',
        400,
      );
    }
    if (auth.service !== 'secretsmanager') {
      throw new SmError('InvalidSignatureException', `Credential should be scoped to correct service: 'secretsmanager'`, 400);
    }
    const secret = this.credentials[auth.accessKeyId];
    if (secret === undefined) {
      throw new SmError('UnrecognizedClientException', 'The security token included in the request is invalid.', 400);
    }
    const amzDate = String(req.headers['x-amz-date'] ?? '');
    const at = parseAmzDate(amzDate);
    if (!Number.isFinite(at) || Math.abs(Date.now() - at) > SIGNATURE_WINDOW_MS || !amzDate.startsWith(auth.date)) {
      throw new SmError(
        'InvalidSignatureException',
        'Signature expired or not yet valid: x-amz-date is outside the 15-minute window',
        400,
      );
    }
    const url = req.url ?? '/';
    const expected = expectedSigV4Signature({
      method: req.method ?? 'POST',
      path: url.split('?')[0] ?? '/',
      query: url.split('?')[1] ?? '',
      headers: req.headers,
      body: raw,
      auth,
      amzDate,
      secretAccessKey: secret,
    });
    if (!sameHex(expected, auth.signature)) {
      throw new SmError(
        'InvalidSignatureException',
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
        400,
      );
    }
    return auth.region;
  }

  private dispatch(operation: string, body: Body, region: string): unknown {
    switch (operation) {
      case 'CreateSecret':
        return this.createSecret(body, region);
      case 'DescribeSecret':
        return this.describeSecret(body);
      case 'GetSecretValue':
        return this.getSecretValue(body);
      case 'BatchGetSecretValue':
        return this.batchGetSecretValue(body);
      case 'PutSecretValue':
        return this.putSecretValue(body);
      case 'UpdateSecretVersionStage':
        return this.updateSecretVersionStage(body);
      case 'ListSecrets':
        return this.listSecrets(body);
      case 'ListSecretVersionIds':
        return this.listSecretVersionIds(body);
      case 'TagResource':
        return this.tagResource(body);
      case 'UntagResource':
        return this.untagResource(body);
      case 'DeleteSecret':
        return this.deleteSecret(body);
      default:
        throw new SmError('UnknownOperationException', `Unknown operation ${operation}`);
    }
  }

  private now(): number {
    return this.clock.now();
  }

  /** Finds a secret by name or ARN; a secret marked for deletion refuses everything but Describe. */
  private find(body: Body, allowDeleted = false): StoredSecret {
    const id = body.SecretId;
    if (typeof id !== 'string' || id === '') throw invalidParameter('SecretId is required');
    const secret = this.secrets.get(id) ?? [...this.secrets.values()].find((s) => s.arn === id);
    if (!secret) throw notFound();
    if (secret.deletedDate !== undefined && !allowDeleted) {
      throw invalidRequest("You can't perform this operation on the secret because it was marked for deletion.");
    }
    return secret;
  }

  private createSecret(body: Body, region: string): unknown {
    const name = body.Name;
    if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
      throw invalidParameter('Name must be 1 to 512 characters from A-Za-z0-9/_+=.@-');
    }
    if (this.secrets.has(name))
      throw new SmError('ResourceExistsException', `The operation failed because the secret ${name} already exists.`);
    const now = this.now();
    const secret: StoredSecret = {
      arn: `arn:aws:secretsmanager:${region}:${SECRETS_MANAGER_ACCOUNT}:secret:${name}-${randomSuffix()}`,
      name,
      tags: new Map(),
      versions: new Map(),
      createdDate: now,
      lastChangedDate: now,
      ...(typeof body.Description === 'string' ? { description: body.Description } : {}),
      ...(typeof body.KmsKeyId === 'string' ? { kmsKeyId: body.KmsKeyId } : {}),
    };
    for (const [key, value] of this.tagList(body.Tags)) secret.tags.set(key, value);
    const value = valueOf(body);
    let versionId: string | undefined;
    if (value) {
      versionId = this.token(body);
      this.addVersion(secret, versionId, value, ['AWSCURRENT']);
    }
    this.secrets.set(name, secret);
    return { ARN: secret.arn, Name: name, ...(versionId ? { VersionId: versionId } : {}) };
  }

  private describeSecret(body: Body): unknown {
    const s = this.find(body, true);
    return {
      ARN: s.arn,
      Name: s.name,
      ...(s.description === undefined ? {} : { Description: s.description }),
      ...(s.kmsKeyId === undefined ? {} : { KmsKeyId: s.kmsKeyId }),
      RotationEnabled: false,
      CreatedDate: seconds(s.createdDate),
      LastChangedDate: seconds(s.lastChangedDate),
      ...(s.deletedDate === undefined ? {} : { DeletedDate: seconds(s.deletedDate) }),
      Tags: [...s.tags].map(([Key, Value]) => ({ Key, Value })),
      VersionIdsToStages: stagesMap(s),
    };
  }

  private getSecretValue(body: Body): unknown {
    const s = this.find(body);
    const versionId = optionalString(body.VersionId, 'VersionId');
    const stage = optionalString(body.VersionStage, 'VersionStage');
    let version: StoredVersion | undefined;
    if (versionId !== undefined) {
      version = s.versions.get(versionId);
      if (!version || (stage !== undefined && !version.stages.has(stage))) {
        throw notFound(`Secrets Manager can't find the specified secret value for VersionId: ${versionId}`);
      }
    } else {
      const wanted = stage ?? 'AWSCURRENT';
      version = [...s.versions.values()].find((v) => v.stages.has(wanted));
      if (!version) throw notFound(`Secrets Manager can't find the specified secret value for staging label: ${wanted}`);
    }
    return {
      ARN: s.arn,
      Name: s.name,
      VersionId: version.versionId,
      ...version.value,
      VersionStages: [...version.stages],
      CreatedDate: seconds(version.createdDate),
    };
  }

  /**
   * BatchGetSecretValue (API reference): the AWSCURRENT value of up to 20 secrets named in
   * SecretIdList, or of the secrets matching Filters (paged by MaxResults ≤ 20 and NextToken);
   * not both. A secret that cannot be read is reported in Errors, not as a failed request.
   */
  private batchGetSecretValue(body: Body): unknown {
    const ids = body.SecretIdList;
    if (ids !== undefined && body.Filters !== undefined)
      throw invalidParameter('Specify either SecretIdList or Filters, not both.');
    if (ids === undefined && body.Filters === undefined) throw invalidParameter('Specify SecretIdList or Filters.');
    let names: string[];
    let next: string | undefined;
    if (ids !== undefined) {
      if (!Array.isArray(ids) || ids.length < 1 || ids.length > 20 || !ids.every((i) => typeof i === 'string' && i))
        throw invalidParameter('SecretIdList must hold 1 to 20 secret ids');
      if (body.MaxResults !== undefined) throw invalidParameter('MaxResults applies only with Filters.');
      names = ids as string[];
    } else {
      const max = body.MaxResults === undefined ? 20 : Number(body.MaxResults);
      if (!Number.isInteger(max) || max < 1 || max > 20) throw invalidParameter('MaxResults must be from 1 to 20');
      const filters = this.filterList(body.Filters);
      const matching = [...this.secrets.values()]
        .filter((s) => s.deletedDate === undefined && filters.every((f) => matchesFilter(s, f)))
        .map((s) => s.name)
        .sort();
      const start = pageStart(body.NextToken);
      names = matching.slice(start, start + max);
      if (start + max < matching.length) next = Buffer.from(`list:${start + max}`).toString('base64');
    }
    const values: unknown[] = [];
    const errors: unknown[] = [];
    for (const id of names) {
      try {
        values.push(this.getSecretValue({ SecretId: id }));
      } catch (err) {
        const e = err as SmError;
        errors.push({ SecretId: id, ErrorCode: e.type, Message: e.message });
      }
    }
    return { SecretValues: values, Errors: errors, ...(next ? { NextToken: next } : {}) };
  }

  private putSecretValue(body: Body): unknown {
    const s = this.find(body);
    const value = valueOf(body);
    if (!value) throw invalidParameter('You must provide either SecretString or SecretBinary.');
    const versionId = this.token(body);
    const stages = body.VersionStages === undefined ? ['AWSCURRENT'] : this.stageList(body.VersionStages);
    const existing = s.versions.get(versionId);
    if (existing) {
      if (existing.value.SecretString !== value.SecretString || existing.value.SecretBinary !== value.SecretBinary) {
        throw new SmError(
          'ResourceExistsException',
          `You can't modify an existing version, you can only create a new version. VersionId: ${versionId}`,
        );
      }
      // Same token, same value: the request is ignored (the stages do not move).
      return { ARN: s.arn, Name: s.name, VersionId: versionId, VersionStages: [...existing.stages] };
    }
    const attached = this.addVersion(s, versionId, value, stages);
    return { ARN: s.arn, Name: s.name, VersionId: versionId, VersionStages: attached };
  }

  private updateSecretVersionStage(body: Body): unknown {
    const s = this.find(body);
    const stage = body.VersionStage;
    if (typeof stage !== 'string' || stage.length < 1 || stage.length > 256)
      throw invalidParameter('VersionStage must be 1 to 256 characters');
    const moveTo = optionalString(body.MoveToVersionId, 'MoveToVersionId');
    const removeFrom = optionalString(body.RemoveFromVersionId, 'RemoveFromVersionId');
    if (moveTo === undefined && removeFrom === undefined) {
      throw invalidParameter('You must specify MoveToVersionId, RemoveFromVersionId, or both.');
    }
    if (moveTo !== undefined && !s.versions.has(moveTo))
      throw notFound(`Secrets Manager can't find the specified secret version: ${moveTo}`);
    const holder = [...s.versions.values()].find((v) => v.stages.has(stage));
    if (removeFrom !== undefined) {
      if (holder?.versionId !== removeFrom) {
        throw invalidParameter(
          `The parameter RemoveFromVersionId is invalid: the staging label ${stage} is not attached to version ${removeFrom}.`,
        );
      }
    } else if (holder && holder.versionId !== moveTo) {
      throw invalidParameter(
        `The staging label ${stage} is currently attached to version ${holder.versionId}, so you must explicitly reference that version in RemoveFromVersionId.`,
      );
    }
    if (holder && holder.versionId !== moveTo) holder.stages.delete(stage);
    if (moveTo !== undefined) {
      if (stage === 'AWSCURRENT' && holder && holder.versionId !== moveTo) this.attach(s, holder, 'AWSPREVIOUS');
      this.attach(s, s.versions.get(moveTo)!, stage);
    }
    s.lastChangedDate = this.now();
    return { ARN: s.arn, Name: s.name };
  }

  private listSecrets(body: Body): unknown {
    const max = body.MaxResults === undefined ? 100 : Number(body.MaxResults);
    if (!Number.isInteger(max) || max < 1 || max > 100) throw invalidParameter('MaxResults must be from 1 to 100');
    const filters = body.Filters === undefined ? [] : this.filterList(body.Filters);
    const matching = [...this.secrets.values()]
      .filter((s) => s.deletedDate === undefined || body.IncludePlannedDeletion === true)
      .filter((s) => filters.every((f) => matchesFilter(s, f)))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const start = pageStart(body.NextToken);
    const page = matching.slice(start, start + max);
    const next = start + max < matching.length ? Buffer.from(`list:${start + max}`).toString('base64') : undefined;
    return {
      SecretList: page.map((s) => ({
        ARN: s.arn,
        Name: s.name,
        ...(s.kmsKeyId === undefined ? {} : { KmsKeyId: s.kmsKeyId }),
        CreatedDate: seconds(s.createdDate),
        LastChangedDate: seconds(s.lastChangedDate),
        Tags: [...s.tags].map(([Key, Value]) => ({ Key, Value })),
        SecretVersionsToStages: stagesMap(s),
      })),
      ...(next ? { NextToken: next } : {}),
    };
  }

  private listSecretVersionIds(body: Body): unknown {
    const s = this.find(body, true);
    const max = body.MaxResults === undefined ? 100 : Number(body.MaxResults);
    if (!Number.isInteger(max) || max < 1 || max > 100) throw invalidParameter('MaxResults must be from 1 to 100');
    const all = [...s.versions.values()].filter((v) => body.IncludeDeprecated === true || v.stages.size > 0);
    const start = pageStart(body.NextToken);
    const page = all.slice(start, start + max);
    const next = start + max < all.length ? Buffer.from(`list:${start + max}`).toString('base64') : undefined;
    return {
      ARN: s.arn,
      Name: s.name,
      Versions: page.map((v) => ({ VersionId: v.versionId, VersionStages: [...v.stages], CreatedDate: seconds(v.createdDate) })),
      ...(next ? { NextToken: next } : {}),
    };
  }

  private tagResource(body: Body): unknown {
    const s = this.find(body);
    const tags = this.tagList(body.Tags);
    if (new Set([...s.tags.keys(), ...tags.map(([k]) => k)]).size > 50)
      throw invalidParameter('A secret can have at most 50 tags');
    for (const [key, value] of tags) s.tags.set(key, value);
    s.lastChangedDate = this.now();
    return {};
  }

  private untagResource(body: Body): unknown {
    const s = this.find(body);
    if (!Array.isArray(body.TagKeys) || !body.TagKeys.every((k) => typeof k === 'string'))
      throw invalidParameter('TagKeys must be a list of strings');
    for (const key of body.TagKeys as string[]) s.tags.delete(key);
    s.lastChangedDate = this.now();
    return {};
  }

  private deleteSecret(body: Body): unknown {
    const s = this.find(body, true);
    const force = body.ForceDeleteWithoutRecovery === true;
    if (force && body.RecoveryWindowInDays !== undefined) {
      throw invalidParameter("You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.");
    }
    const days = body.RecoveryWindowInDays === undefined ? 30 : Number(body.RecoveryWindowInDays);
    if (!force && (!Number.isInteger(days) || days < 7 || days > 30))
      throw invalidParameter('RecoveryWindowInDays must be from 7 to 30');
    const deletion = force ? this.now() : this.now() + days * DAY_MS;
    if (force) this.secrets.delete(s.name);
    else s.deletedDate = this.now();
    return { ARN: s.arn, Name: s.name, DeletionDate: seconds(deletion) };
  }

  /** ClientRequestToken: AWS requires 32 to 64 characters; the SDK fills in a UUID when absent. */
  private token(body: Body): string {
    const token = body.ClientRequestToken ?? randomUUID();
    if (typeof token !== 'string' || token.length < 32 || token.length > 64) {
      throw invalidParameter('ClientRequestToken must be 32 to 64 characters');
    }
    return token;
  }

  private stageList(value: unknown): string[] {
    if (
      !Array.isArray(value) ||
      value.length < 1 ||
      value.length > 20 ||
      !value.every((v) => typeof v === 'string' && v.length >= 1 && v.length <= 256)
    ) {
      throw invalidParameter('VersionStages must be a list of 1 to 20 labels of 1 to 256 characters');
    }
    return [...new Set(value as string[])];
  }

  private tagList(value: unknown): [string, string][] {
    if (value === undefined) return [];
    if (!Array.isArray(value)) throw invalidParameter('Tags must be a list');
    return value.map((t: unknown) => {
      const { Key, Value } = (t ?? {}) as { Key?: unknown; Value?: unknown };
      if (typeof Key !== 'string' || !/^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u.test(Key) || Key.toLowerCase().startsWith('aws:')) {
        throw invalidParameter(`Invalid tag key ${JSON.stringify(Key)}`);
      }
      if (typeof Value !== 'string' || !/^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u.test(Value)) {
        throw invalidParameter(`Invalid tag value for key ${Key}`);
      }
      return [Key, Value];
    });
  }

  private filterList(value: unknown): { key: string; values: string[] }[] {
    if (!Array.isArray(value)) throw invalidParameter('Filters must be a list');
    return value.map((f: unknown) => {
      const { Key, Values } = (f ?? {}) as { Key?: unknown; Values?: unknown };
      if (
        typeof Key !== 'string' ||
        !['name', 'tag-key', 'tag-value', 'description', 'all', 'primary-region', 'owning-service'].includes(Key)
      ) {
        throw invalidParameter(`Invalid filter key ${JSON.stringify(Key)}`);
      }
      if (!Array.isArray(Values) || Values.length < 1 || Values.length > 10 || !Values.every((v) => typeof v === 'string')) {
        throw invalidParameter('Filter Values must be a list of 1 to 10 strings');
      }
      return { key: Key, values: Values as string[] };
    });
  }

  /**
   * Adds a version with `stages`. The first version of a secret always gets AWSCURRENT as well
   * (AWS, PutSecretValue: "If this operation creates the first version for the secret, then
   * Secrets Manager automatically attaches the staging label AWSCURRENT to it"), even when
   * VersionStages named only other labels.
   */
  private addVersion(s: StoredSecret, versionId: string, value: StoredVersion['value'], requested: string[]): string[] {
    this.enforceQuota(s);
    const stages = s.versions.size === 0 && !requested.includes('AWSCURRENT') ? [...requested, 'AWSCURRENT'] : requested;
    const version: StoredVersion = { versionId, value, stages: new Set(), createdDate: this.now() };
    s.versions.set(versionId, version);
    const current = [...s.versions.values()].find((v) => v !== version && v.stages.has('AWSCURRENT'));
    for (const stage of stages) {
      if (stage === 'AWSCURRENT' && current) {
        current.stages.delete('AWSCURRENT');
        this.attach(s, current, 'AWSPREVIOUS');
      }
      this.attach(s, version, stage);
    }
    s.lastChangedDate = this.now();
    return [...version.stages];
  }

  /** Attaches `stage` to `version`, taking it off whichever version had it. */
  private attach(s: StoredSecret, version: StoredVersion, stage: string): void {
    for (const v of s.versions.values()) if (v !== version) v.stages.delete(stage);
    version.stages.add(stage);
  }

  /**
   * AWS removes deprecated versions when a secret holds more than the quota, but never those
   * created in the last 24 hours; a write beyond that fails.
   */
  private enforceQuota(s: StoredSecret): void {
    if (s.versions.size < this.maxVersions) return;
    const cutoff = this.now() - DAY_MS;
    for (const v of [...s.versions.values()]) {
      if (s.versions.size < this.maxVersions) break;
      if (v.stages.size === 0 && v.createdDate <= cutoff) s.versions.delete(v.versionId);
    }
    if (s.versions.size >= this.maxVersions) {
      throw new SmError(
        'LimitExceededException',
        `You have exceeded the maximum number of versions (${this.maxVersions}) for secret ${s.name}; deprecated versions are removed after 24 hours.`,
      );
    }
  }
}

function valueOf(body: Body): StoredVersion['value'] | undefined {
  if (typeof body.SecretString === 'string') return { SecretString: body.SecretString };
  if (typeof body.SecretBinary === 'string') return { SecretBinary: body.SecretBinary };
  return undefined;
}

function optionalString(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw invalidParameter(`${name} must be a non-empty string`);
  return value;
}

function stagesMap(s: StoredSecret): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const v of s.versions.values()) if (v.stages.size > 0) out[v.versionId] = [...v.stages];
  return out;
}

/** AWS filters: prefix matches, case-insensitive for names; `!` negates; values of one key are ORed. */
function matchesFilter(s: StoredSecret, f: { key: string; values: string[] }): boolean {
  const candidates = (): string[] => {
    switch (f.key) {
      case 'name':
        return [s.name];
      case 'tag-key':
        return [...s.tags.keys()];
      case 'tag-value':
        return [...s.tags.values()];
      case 'description':
        return s.description === undefined ? [] : [s.description];
      case 'all':
        return [s.name, s.description ?? '', ...s.tags.keys(), ...s.tags.values()];
      default:
        return [];
    }
  };
  const texts = candidates().map((t) => t.toLowerCase());
  const positive = f.values.filter((v) => !v.startsWith('!'));
  const negative = f.values.filter((v) => v.startsWith('!')).map((v) => v.slice(1));
  if (negative.some((v) => texts.some((t) => t.startsWith(v.toLowerCase())))) return false;
  return positive.length === 0 || positive.some((v) => texts.some((t) => t.startsWith(v.toLowerCase())));
}

function pageStart(token: unknown): number {
  if (token === undefined) return 0;
  const match = typeof token === 'string' ? /^list:(\d+)$/.exec(Buffer.from(token, 'base64').toString('utf8')) : null;
  if (!match) throw invalidParameter('Invalid NextToken');
  return Number(match[1]);
}

/** The stage labels a request writes or moves (never its SecretString), for triggers. */
function stagesOf(body: Body): string[] {
  const stages = Array.isArray(body.VersionStages) ? body.VersionStages : [body.VersionStage];
  return stages.filter((x): x is string => typeof x === 'string');
}

/** AWS writes timestamps as epoch seconds (with a fraction). */
function seconds(ms: number): number {
  return ms / 1000;
}

function randomSuffix(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  return [...randomBytes(6)].map((b) => alphabet[b % alphabet.length]).join('');
}

/** Starts the emulator on 127.0.0.1. `close()` also destroys open (keep-alive) connections. */
export async function startSecretsManagerEmulator(options: SecretsManagerEmulatorOptions = {}): Promise<SecretsManagerEmulator> {
  const emu = new SecretsManagerServer(options);
  const server = await serveOnLoopback((req, res) => emu.handle(req, res), options.port);
  return {
    url: server.url,
    faults: emu.kit.faults,
    get latencyMs() {
      return emu.kit.latencyMs;
    },
    set latencyMs(ms: number) {
      emu.kit.latencyMs = ms;
    },
    requests: emu.kit.requests,
    dropConnections: (n, operation) => emu.kit.dropConnections(n, operation),
    count: (operation) => emu.kit.count(operation),
    counts: () => emu.kit.counts(),
    versions: (name) => emu.versions(name),
    secretNames: () => emu.secretNames(),
    tags: (name) => emu.tags(name),
    on: (operation, phase, listener) => emu.kit.on(operation, phase, listener),
    close: () => server.close(),
  };
}
