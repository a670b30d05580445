import { buildAugmentApp } from './app.ts';
import { augmentSettings, readAugmentConfig } from './config.ts';
import { launch } from '../shared/launch.ts';

await launch({ name: 'augment', settings: augmentSettings, readConfig: readAugmentConfig, build: (config) => buildAugmentApp(config), processes: (config) => config.processes });
