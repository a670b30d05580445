/** Types for scripts/validate-deploy.mjs, so that TypeScript tests can import it. */
export interface Finding {
  rule: string;
  file: string;
  message: string;
}
export interface ToolRun {
  tool: string;
  ok: boolean;
  output: string;
}
export const RULES: Record<string, string>;
export function validateDeploy(options?: { root?: string; external?: boolean }): { errors: Finding[]; ran: string[]; tools: ToolRun[] };
export interface DockerfileStage {
  raw: string;
  image: string;
  name: string | undefined;
  base: string;
  instructions: Array<{ op: string; args: string }>;
}
export function parseDockerfile(text: string): { stages: DockerfileStage[]; globalArgs: Map<string, string> };
