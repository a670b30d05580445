import type { InferenceSession } from 'onnxruntime-node';

/** What the config declares about a model's input and output, as the worker checks it. */
export interface DeclaredIO {
  inputName: string;
  /** Config shape, batch first (-1 = dynamic). */
  inputShape: readonly number[];
  outputName: string;
  /** Scores per image (the number of labels). */
  classes: number;
}

const dimOk = (declared: number, actual: number | string, batchAxis: boolean): boolean =>
  typeof actual === 'string' || actual === -1
    ? batchAxis ? declared === -1 : declared > 0 // a symbolic non-batch axis accepts any fixed size
    : declared === actual;

/**
 * Compares the config with the ONNX graph's own input and output metadata. Returns the reason they
 * disagree, or undefined when they agree. A graph with a fixed batch size must be declared with
 * that size; a dynamic one with -1.
 */
export function checkModelIO(declared: DeclaredIO, inputs: readonly InferenceSession.ValueMetadata[], outputs: readonly InferenceSession.ValueMetadata[]): string | undefined {
  const input = inputs.find((m) => m.name === declared.inputName);
  if (!input) return `config input.name ${declared.inputName} is not an input of the model (inputs: ${inputs.map((m) => m.name).join(', ')})`;
  if (inputs.length !== 1) return `the model has ${inputs.length} inputs; only single-input models are served`;
  if (!input.isTensor || input.type !== 'float32') return `model input ${input.name} is ${input.isTensor ? input.type : 'not a tensor'}, config declares FP32`;
  const shape = input.shape;
  if (shape.length !== declared.inputShape.length || !declared.inputShape.every((d, i) => dimOk(d, shape[i]!, i === 0))) {
    return `config input.shape [${declared.inputShape.join(', ')}] disagrees with the model's input shape [${shape.join(', ')}]`;
  }
  const output = outputs.find((m) => m.name === declared.outputName);
  if (!output) return `config output.name ${declared.outputName} is not an output of the model (outputs: ${outputs.map((m) => m.name).join(', ')})`;
  if (!output.isTensor || output.type !== 'float32') return `model output ${output.name} is ${output.isTensor ? output.type : 'not a tensor'}, expected float32`;
  const last = output.shape.at(-1);
  if (output.shape.length !== 2 || (typeof last === 'number' && last !== -1 && last !== declared.classes)) {
    return `model output shape [${output.shape.join(', ')}] is not [batch, ${declared.classes}] (one score per label)`;
  }
  return undefined;
}
