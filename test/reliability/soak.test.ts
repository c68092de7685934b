import { soak } from './soak';

/**
 * CI runs a short soak; `npm run soak` the long one (SOAK_ROTATIONS=1000). Not a timing test:
 * the jest timeout below only stops a hung run.
 */
const rotations = Number(process.env.SOAK_ROTATIONS ?? 100);

test(`fault soak: ${rotations} rotations with ~15% injected 429/5xx/drops lose, orphan and leak nothing`, async () => {
  const figures = await soak({ rotations, secrets: 20, faultRate: 0.15, seed: Number(process.env.SOAK_SEED ?? 1) });
  process.stdout.write(
    `fault soak: rotations=${figures.rotations} failed=${figures.failed} faults=${figures.faultsInjected} lost=${figures.lost} orphaned=${figures.orphaned} leaked=${figures.leaked}\n`,
  );
  expect(figures.rotations).toBe(rotations);
  expect(figures.faultsInjected).toBeGreaterThan(rotations * 0.05);
  expect({ lost: figures.lost, orphaned: figures.orphaned, leaked: figures.leaked }).toEqual({ lost: 0, orphaned: 0, leaked: 0 });
}, 600_000);
