/** Types for parallelism.mjs, so that the TypeScript services and tests can import it. */
export const NODE_DEFAULT_THREADPOOL: number;
export const MAX_THREADPOOL: number;
export const THREADS_PER_WORKER: number;
export type Env = Record<string, string | undefined>;
export type ServiceName = 'augment' | 'inference';
export function cores(env?: Env): number;
export function augmentProcesses(env?: Env, coreCount?: number): number;
export function threadpoolSize(service: ServiceName, env?: Env): number;
export function serviceEnv(service: ServiceName, env?: Env): Env;
export function inferenceParallelism(coreCount: number, workers?: number): { workers: number; intraOpThreads: number };
export function effectiveThreadpool(env?: Env): number;
