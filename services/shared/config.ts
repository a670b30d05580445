/**
 * Settings come from environment variables, each declared once with its default and bounds,
 * and are checked together at start so that one message lists every bad value.
 */

import { availableParallelism } from 'node:os';

type Setting<T> = {
  env: string;
  default: T;
  description: string;
  parse(text: string): T | undefined;
  expect: string;
};

export const setting = {
  int(env: string, fallback: number, min: number, max: number, description: string): Setting<number> {
    return {
      env,
      default: fallback,
      description,
      expect: `an integer from ${min} to ${max}`,
      parse: (text) => {
        const value = Number(text);
        return /^-?\d+$/.test(text.trim()) && value >= min && value <= max ? value : undefined;
      },
    };
  },
  /** A whole number or `auto` (derived from the cores when the service starts). */
  intOrAuto(env: string, fallback: number | 'auto', min: number, max: number, description: string): Setting<number | 'auto'> {
    return {
      env,
      default: fallback,
      description,
      expect: `auto or an integer from ${min} to ${max}`,
      parse: (text) => {
        if (text.trim() === 'auto') return 'auto';
        const value = Number(text);
        return /^-?\d+$/.test(text.trim()) && value >= min && value <= max ? value : undefined;
      },
    };
  },
  string(env: string, fallback: string, description: string, pattern?: RegExp): Setting<string> {
    return {
      env,
      default: fallback,
      description,
      expect: pattern ? `text matching ${pattern}` : 'text',
      parse: (text) => (!pattern || pattern.test(text) ? text : undefined),
    };
  },
  oneOf<T extends string>(env: string, fallback: T, choices: readonly T[], description: string): Setting<T> {
    return {
      env,
      default: fallback,
      description,
      expect: `one of ${choices.join(', ')}`,
      parse: (text) => (choices as readonly string[]).includes(text) ? (text as T) : undefined,
    };
  },
  bool(env: string, fallback: boolean, description: string): Setting<boolean> {
    return {
      env,
      default: fallback,
      description,
      expect: 'true or false',
      parse: (text) => (/^(true|1|yes)$/i.test(text) ? true : /^(false|0|no)$/i.test(text) ? false : undefined),
    };
  },
  list(env: string, fallback: string[], description: string): Setting<string[]> {
    return {
      env,
      default: fallback,
      description,
      expect: 'a comma-separated list',
      parse: (text) => text.split(',').map((item) => item.trim()).filter(Boolean),
    };
  },
};

export type Settings = Record<string, Setting<unknown>>;
export type ConfigOf<S extends Settings> = { [K in keyof S]: S[K] extends Setting<infer T> ? T : never };

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Read and check every setting; throws one ConfigError naming each bad variable. */
export function readConfig<S extends Settings>(settings: S, env: NodeJS.ProcessEnv = process.env): ConfigOf<S> {
  const config: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, item] of Object.entries(settings)) {
    const text = env[item.env];
    if (text === undefined || text === '') {
      config[key] = item.default;
      continue;
    }
    const value = item.parse(text);
    if (value === undefined) problems.push(`${item.env}: expected ${item.expect}, got ${JSON.stringify(text)}`);
    else config[key] = value;
  }
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  return config as ConfigOf<S>;
}

/**
 * Each setting's effective value under its variable's name, for the start log. API keys are
 * secrets: only their number is shown.
 * @example effectiveSettings(augmentSettings, config).AUGMENT_PORT // 3001
 */
export function effectiveSettings(settings: Settings, config: object): Record<string, unknown> {
  const values = config as Record<string, unknown>;
  return Object.fromEntries(Object.entries(settings).map(([key, item]) => {
    const value = values[key];
    return [item.env, key === 'apiKeys' && Array.isArray(value) ? `${value.length} key(s)` : value];
  }));
}

/** Settings both services share: listening, limits on uploads, access, shutdown. */
export const commonSettings = {
  host: setting.string('HOST', '127.0.0.1', 'Address to listen on (0.0.0.0 in containers).'),
  logLevel: setting.oneOf('LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'pino log level.'),
  maxFileBytes: setting.int('MAX_FILE_BYTES', 20 * 1024 * 1024, 1, 1024 * 1024 * 1024, 'Bytes of one uploaded file.'),
  maxFieldBytes: setting.int('MAX_FIELD_BYTES', 64 * 1024, 16, 16 * 1024 * 1024, 'Bytes of one text field.'),
  maxFields: setting.int('MAX_FIELDS', 64, 1, 10_000, 'Text fields in one request.'),
  maxInputPixels: setting.int('MAX_INPUT_PIXELS', 40_000_000, 1, 268_402_689, 'Pixels of one input image, checked from its header.'),
  corsOrigins: setting.list('CORS_ORIGINS', ['*'], 'Origins allowed to call the service from a browser (`*` = any).'),
  apiKeys: setting.list('API_KEYS', [], 'Comma-separated API keys; when set, every non-health endpoint needs one. Admin endpoints (model load and unload) always need one.'),
  rateLimit: setting.int('RATE_LIMIT_PER_MINUTE', 0, 0, 10_000_000, 'Requests per minute per API key or IP; 0 turns rate limiting off.'),
  shutdownGraceMs: setting.int('SHUTDOWN_GRACE_MS', 10_000, 0, 600_000, 'How long in-flight requests may take to finish on SIGTERM.'),
  requestTimeoutMs: setting.int('REQUEST_TIMEOUT_MS', 60_000, 0, 3_600_000, 'Whole-request timeout (0 = none); slow uploads are cut off.'),
  poolNice: setting.int('POOL_NICE', 0, 0, 19, "Scheduling niceness (Linux) of every thread but the event loop's (libuv's pool, where sharp decodes and encodes; V8's helpers), so that health probes and new requests are answered promptly when the CPU is saturated; 0 = same priority."),
  cores: setting.intOrAuto('AUGSERVE_CORES', 'auto', 1, 4096, "Cores to plan for; every `auto` below derives from it. `auto` = the CPUs the process may run on (`os.availableParallelism()`); the Kubernetes manifests set the pod's CPU limit."),
  threadpool: setting.intOrAuto('UV_THREADPOOL_SIZE', 'auto', 1, 1024, "libuv's pool (sharp's decoding, operations and encoding; file I/O), per process. Node reads it once at start, so `npm start` and the container's entrypoint set it before the service starts: `auto` = the cores (÷ AUGMENT_PROCESSES for augment), at least 4. Started any other way, Node's default of 4 applies (logged as a warning)."),
};

/** The cores a service plans for: AUGSERVE_CORES, or the CPUs it may run on. */
export function resolveCores(value: number | 'auto'): number {
  return value === 'auto' ? availableParallelism() : value;
}

/** Markdown table rows for the README, so every setting is documented from one place. */
export function describeSettings(settings: Settings): string {
  return Object.values(settings)
    .map((item) => `| \`${item.env}\` | \`${Array.isArray(item.default) ? item.default.join(',') : String(item.default)}\` | ${item.description} |`)
    .join('\n');
}
