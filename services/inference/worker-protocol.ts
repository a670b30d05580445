import type { ProviderFailure, ProviderSpec } from './providers.ts';
import type { DeclaredIO } from './model-io.ts';

/** What a worker is started with. */
export interface WorkerData {
  /** Niceness for the worker thread and the onnxruntime threads it creates (Linux). */
  nice: number;
}

/** Everything a worker needs to load (and warm up) one model; replayed to replacement workers. */
export interface LoadRequest {
  model: string;
  /** Verified absolute path of the .onnx file. */
  path: string;
  providers: ProviderSpec[];
  intraOpThreads: number;
  /** Idle intra-op threads spin (onnxruntime's session.intra_op.allow_spinning). */
  intraOpSpinning: boolean;
  io: DeclaredIO;
  /** Batch sizes run once with zeros after loading, so the first real request is not the slow one. */
  warmupBatchSizes: number[];
}

export interface LoadedInfo {
  provider: string;
  failures: ProviderFailure[];
  warmupMs: number;
}

export type ToWorker =
  | { type: 'load'; id: number; request: LoadRequest }
  | { type: 'run'; id: number; model: string; data: Float32Array; dims: number[] }
  | { type: 'unload'; id: number; model: string }
  /** Release every session and exit; queued behind any run in progress, so none is cut short. */
  | { type: 'close' };

export type FromWorker =
  | { type: 'loaded'; id: number; info: LoadedInfo }
  | { type: 'result'; id: number; data: Float32Array; dims: number[] }
  | { type: 'unloaded'; id: number }
  | { type: 'error'; id: number; message: string };
