import { buildAugmentApp } from './app.ts';
import { readAugmentConfig } from './config.ts';
import { launch } from '../shared/launch.ts';

await launch({ name: 'augment', readConfig: readAugmentConfig, build: (config) => buildAugmentApp(config), processes: (config) => config.processes });
