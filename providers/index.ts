import type { ProviderPlugin } from '../src/types';
import { ncpSts } from './ncp-sts';
import { mongodbCloudManager } from './mongodb-cloud-manager';

/** Every provider plugin. Adding a provider: its folder, its tests, and one line here. */
export const providerPlugins: readonly ProviderPlugin[] = [ncpSts, mongodbCloudManager];
