// The augment suite's own stacks (service multipart, raw body, node:http, in-process sharp) for flip and rotate at one
// concurrency, on a many-core host that has no onnxruntime-node (bench/run.ts imports the inference suite too):
//   UV_THREADPOOL_SIZE=16 AUGSERVE_CORES=16 MAX_CONCURRENT_REQUESTS=256 node --import tsx bench/many-cores-suite.ts OUT.json 64
import { writeFileSync } from 'node:fs';
import { runAugmentSuite } from './augment-suite.ts';
import { AUGMENT_INPUTS } from './inputs.ts';
const [out, concurrency] = process.argv.slice(2) as [string, string];
const data = await runAugmentSuite({ quick: false, workDir: 'bench/work', log: (l: string) => process.stderr.write(`${l}\n`), ops: ['flip', 'rotate'], budget: { seconds: 2, warmup: 6, runs: 3 }, concurrencies: [Number(concurrency)], pythonBudget: { seconds: 2, warmup: 2, runs: 3 }, pythonStacks: [], inputs: AUGMENT_INPUTS });
writeFileSync(out, JSON.stringify(data, null, 1));
