// The engine tests' in-memory vault must keep the same contract as the real vaults, or those
// tests would prove nothing about them.
import { describeVaultContract } from '../vault-contract';
import { ManualClock } from '../../src/clock';
import { MemoryVault } from '../support/memory-vault';

describeVaultContract('MemoryVault (test double)', async () => {
  const clock = new ManualClock();
  return { vault: new MemoryVault(clock), clock, cleanup: async () => {} };
});
