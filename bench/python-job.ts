import { spawn } from 'node:child_process';

/** Runs a bench/python script with `job` (JSON) on its stdin; its stderr goes to `log` line by line, its stdout is parsed as JSON. */
export async function runPython(script: string, job: unknown, log: (line: string) => void): Promise<unknown> {
  const child = spawn('/usr/bin/python3', [script], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    for (const line of d.toString().trim().split('\n')) if (line) log(`  ${line}`);
  });
  child.stdin.end(JSON.stringify(job));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`${script} exited with ${code}:\n${err.slice(-3000)}`);
  return JSON.parse(out);
}
