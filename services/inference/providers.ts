import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import ort from 'onnxruntime-node';

/**
 * onnxruntime's own log goes straight to stderr, in colour, from native code: probing CUDA on a
 * host without it prints `[E:onnxruntime ... provider_bridge_ort.cc ...] Failed to load library`
 * once per session attempt, which reads like a crash. A failed provider is reported by the
 * service instead (structured, with a hint), so only fatal native lines are let through. The
 * level is read once, when the first session of the process is created; session-level
 * `logSeverityLevel` does not reach the provider bridge, which logs on the default logger.
 */
export function quietNativeLog(): void {
  ort.env.logLevel = 'fatal';
}

/** One execution provider as onnxruntime-node takes it (`'cpu'` or `{ name: 'cuda', deviceId }`). */
export type ProviderSpec = { name: string; deviceId?: number };

/** Why a provider was skipped for one model. */
export interface ProviderFailure {
  provider: string;
  reason: string;
}

export interface FallbackSession {
  session: ort.InferenceSession;
  /** The provider the session runs on. */
  provider: string;
  /** Providers tried before it, in order, with the error each gave. */
  failures: ProviderFailure[];
}

/**
 * Why a provider probably failed, in terms an operator can act on. onnxruntime only says
 * "Failed to load shared library"; the libraries it wanted are known.
 */
export function providerHint(provider: string): string | undefined {
  if (provider !== 'cuda' && provider !== 'tensorrt') return undefined;
  const bin = join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', process.platform, process.arch);
  if (!existsSync(join(bin, 'libonnxruntime_providers_cuda.so'))) {
    return 'the CUDA provider libraries are not installed (CPU install); `npm run install:cuda` adds them';
  }
  return 'the CUDA provider is installed but a CUDA 12 / cuDNN 9 runtime or a GPU was not found';
}

const KNOWN = new Set(['cpu', 'cuda', 'tensorrt', 'webgpu', 'dml', 'coreml']);

/**
 * Parses EXECUTION_PROVIDERS ("cuda,cpu") and CUDA_DEVICE_ID into the ordered list to try.
 * @example parseProviders('cuda,cpu', '1') // [{ name: 'cuda', deviceId: 1 }, { name: 'cpu' }]
 */
export function parseProviders(list = 'cuda,cpu', cudaDeviceId?: string): ProviderSpec[] {
  const names = list.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  if (names.length === 0) throw new RangeError(`expected a comma-separated provider list for EXECUTION_PROVIDERS, got ${JSON.stringify(list)}`);
  let deviceId: number | undefined;
  if (cudaDeviceId !== undefined && cudaDeviceId.trim() !== '') {
    deviceId = Number(cudaDeviceId);
    if (!Number.isInteger(deviceId) || deviceId < 0) {
      throw new RangeError(`expected a non-negative integer for CUDA_DEVICE_ID, got ${JSON.stringify(cudaDeviceId)}`);
    }
  }
  return names.map((name) => {
    if (!KNOWN.has(name)) {
      throw new RangeError(`expected one of ${[...KNOWN].join(', ')} in EXECUTION_PROVIDERS, got ${JSON.stringify(name)}`);
    }
    return (name === 'cuda' || name === 'tensorrt') && deviceId !== undefined ? { name, deviceId } : { name };
  });
}

function toOrt(spec: ProviderSpec): ort.InferenceSession.ExecutionProviderConfig {
  return spec.deviceId === undefined ? spec.name : ({ name: spec.name, deviceId: spec.deviceId } as ort.InferenceSession.ExecutionProviderConfig);
}

/**
 * Creates a session on the first provider that works. onnxruntime-node does not fall back on its
 * own: given ['cuda', 'cpu'] it throws when the CUDA libraries are missing, so each provider is
 * tried alone. Throws when every provider fails, with every reason in the message.
 */
/**
 * The session options every inference session gets, from the threading settings: one inter-op
 * thread, all graph optimisations, and spinning intra-op threads only when asked for (spinning
 * waits less for the next operator, but holds cores that the event loop, image decoding and the
 * other models' sessions need).
 */
export function sessionOptions({ intraOpThreads, intraOpSpinning }: { intraOpThreads: number; intraOpSpinning: boolean }): Omit<ort.InferenceSession.SessionOptions, 'executionProviders'> {
  return {
    // onnxruntime-node refuses an explicit undefined: leave the key out to let it choose.
    ...(intraOpThreads > 0 ? { intraOpNumThreads: intraOpThreads } : {}),
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: intraOpSpinning ? '1' : '0' } } },
  };
}

export async function createSessionWithFallback(
  modelPath: string,
  providers: readonly ProviderSpec[],
  options: Omit<ort.InferenceSession.SessionOptions, 'executionProviders'> = {},
): Promise<FallbackSession> {
  const failures: ProviderFailure[] = [];
  quietNativeLog();
  for (const spec of providers) {
    try {
      const session = await ort.InferenceSession.create(modelPath, { ...options, executionProviders: [toOrt(spec)] });
      return { session, provider: spec.name, failures };
    } catch (error) {
      failures.push({ provider: spec.name, reason: error instanceof Error ? error.message : String(error) });
    }
  }
  const reasons = failures.map((f) => `${f.provider}: ${f.reason}`).join('; ');
  throw new Error(`no execution provider could load ${modelPath} (${reasons})`);
}
