import type { ProviderPlugin } from '../src/types';
import { ncpSts } from './ncp-sts';

/** Every provider plugin. Adding a provider: its folder, its tests, and one line here. */
export const providerPlugins: readonly ProviderPlugin[] = [ncpSts];

export function findProviderPlugin(type: string): ProviderPlugin | undefined {
  return providerPlugins.find((p) => p.type === type);
}
