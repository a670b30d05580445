/**
 * Worker thread entry: holds one onnxruntime session per model and runs batches sent by
 * WorkerPool, so that the synchronous native work never blocks the HTTP event loop.
 * The message protocol is in worker-protocol.ts.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { checkModelIO } from './model-io.ts';
import { createSessionWithFallback, sessionOptions } from './providers.ts';
import type { LoadRequest, LoadedInfo, ToWorker, FromWorker, WorkerData } from './worker-protocol.ts';

if (!parentPort) throw new Error('session-worker.ts must run as a worker thread');
const port = parentPort;

/**
 * Under saturation the CPU is shared by the event loop, image decoding and inference. Lowering
 * this thread's priority, before onnxruntime creates its threads (which inherit it), keeps the
 * event loop (health probes, request intake) responsive on a busy host. Linux only: elsewhere
 * /proc/thread-self does not exist and the worker keeps the default priority.
 */
function lowerPriority(nice: number): void {
  if (!nice) return;
  try {
    setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), nice);
  } catch {
    // Not Linux, or not permitted: run at the default priority.
  }
}
lowerPriority((workerData as WorkerData | undefined)?.nice ?? 0);

interface Loaded {
  session: ort.InferenceSession;
  request: LoadRequest;
}
const sessions = new Map<string, Promise<Loaded>>();

const send = (message: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

async function run(loaded: Loaded, data: Float32Array, dims: number[]): Promise<{ data: Float32Array; dims: number[] }> {
  const { session, request } = loaded;
  const feeds = { [request.io.inputName]: new ort.Tensor('float32', data, dims) };
  const results = await session.run(feeds, [request.io.outputName]);
  const output = results[request.io.outputName];
  if (!output || output.type !== 'float32') throw new Error(`model ${request.model} gave no float32 output ${request.io.outputName}`);
  const outDims = [...output.dims];
  if (outDims.length !== 2 || outDims[0] !== dims[0] || outDims[1] !== request.io.classes) {
    throw new Error(`model ${request.model} output has shape [${outDims.join(', ')}], expected [${dims[0]}, ${request.io.classes}]`);
  }
  const values = output.data as Float32Array;
  // Transfer only a buffer the array owns entirely; otherwise copy.
  const owned = values.byteOffset === 0 && values.byteLength === values.buffer.byteLength ? values : values.slice();
  return { data: owned, dims: outDims };
}

async function load(request: LoadRequest): Promise<{ loaded: Loaded; info: LoadedInfo }> {
  const { session, provider, failures } = await createSessionWithFallback(request.path, request.providers, sessionOptions(request));
  const mismatch = checkModelIO(request.io, session.inputMetadata, session.outputMetadata);
  if (mismatch) {
    await session.release();
    throw new Error(mismatch);
  }
  const loaded = { session, request };
  const perImage = request.io.inputShape.slice(1);
  const size = perImage.reduce((a, b) => a * b, 1);
  const started = performance.now();
  for (const batch of request.warmupBatchSizes) {
    await run(loaded, new Float32Array(batch * size), [batch, ...perImage]);
  }
  return { loaded, info: { provider, failures, warmupMs: performance.now() - started } };
}

async function handle(message: ToWorker): Promise<void> {
  switch (message.type) {
    case 'load': {
      const { model } = message.request;
      const pending = load(message.request);
      const loaded = pending.then((r) => r.loaded);
      // Handled here so a failed load is not an unhandled rejection (which would end the worker).
      loaded.catch(() => sessions.get(model) === loaded && sessions.delete(model));
      sessions.set(model, loaded);
      try {
        send({ type: 'loaded', id: message.id, info: (await pending).info });
      } catch (error) {
        send({ type: 'error', id: message.id, message: (error as Error).message });
      }
      return;
    }
    case 'run': {
      try {
        const loaded = await sessions.get(message.model);
        if (!loaded) throw new Error(`model ${message.model} is not loaded in this worker`);
        const result = await run(loaded, message.data, message.dims);
        send({ type: 'result', id: message.id, data: result.data, dims: result.dims }, [result.data.buffer as ArrayBuffer]);
      } catch (error) {
        send({ type: 'error', id: message.id, message: (error as Error).message });
      }
      return;
    }
    case 'unload': {
      const loaded = await sessions.get(message.model)?.catch(() => undefined);
      sessions.delete(message.model);
      await loaded?.session.release();
      send({ type: 'unloaded', id: message.id });
      return;
    }
    case 'close': {
      const all = await Promise.all([...sessions.values()].map((loaded) => loaded.catch(() => undefined)));
      sessions.clear();
      await Promise.all(all.map((loaded) => loaded?.session.release()));
      port.close();
      return;
    }
  }
}

port.on('message', (message: ToWorker) => void handle(message));
