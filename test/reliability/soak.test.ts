import { DEFAULT_RETRY_POLICIES } from '../../src/rotate';
import { soak, soakLine } from './soak';

/**
 * CI runs a short soak; `npm run soak` the long one (SOAK_ROTATIONS=1000). Not a timing test:
 * the jest timeout below only stops a hung run.
 */
const rotations = Number(process.env.SOAK_ROTATIONS ?? 100);
const mostAttempts = Math.max(...Object.values(DEFAULT_RETRY_POLICIES).map((p) => p.attempts));

test(`fault soak: ${rotations} rotations over NCP STS and MongoDB × file vault and Secrets Manager, ~15% with injected 429/5xx/drops on providers and vaults, lose, orphan and leak nothing`, async () => {
  const figures = await soak({ rotations, secrets: 20, faultRate: 0.15, seed: Number(process.env.SOAK_SEED ?? 1) });
  process.stdout.write(`fault soak: ${soakLine(figures)}\n`);
  expect(figures.rotations).toBe(rotations);
  expect(figures.faultsInjected).toBeGreaterThan(rotations * 0.1);
  expect(figures.providerFaults).toBeGreaterThan(0);
  expect(figures.vaultFaults).toBeGreaterThan(0);
  expect(figures.faultsHit).toBeGreaterThan(rotations * 0.05); // most faults land on a call the rotation makes
  expect({ lost: figures.lost, orphaned: figures.orphaned, leaked: figures.leaked }).toEqual({ lost: 0, orphaned: 0, leaked: 0 });
  // Retries are bounded: no step tried more often than its policy allows, and no rotation
  // issued more often than the provider policy's attempts (each attempt issues at most once).
  expect(figures.attemptsOverPolicy).toBe(0);
  expect(figures.maxAttempts).toBeGreaterThan(1); // faults did make steps retry
  expect(figures.maxAttempts).toBeLessThanOrEqual(mostAttempts);
  expect(figures.maxIssueRequests).toBeLessThanOrEqual(DEFAULT_RETRY_POLICIES.provider.attempts);
}, 600_000);
