import closeWithGrace from 'close-with-grace';
import type { FastifyInstance } from 'fastify';
import { ConfigError } from './config.ts';

export interface LaunchOptions<C extends { host: string; port: number; shutdownGraceMs: number }> {
  name: string;
  readConfig(): C;
  build(config: C): Promise<FastifyInstance>;
}

/**
 * Read the configuration, build the app, listen, and close gracefully on SIGTERM/SIGINT:
 * the listening socket closes at once, requests already accepted (even mid-upload) finish,
 * and the process exits within the grace period.
 */
export async function launch<C extends { host: string; port: number; shutdownGraceMs: number }>(options: LaunchOptions<C>): Promise<void> {
  let config: C;
  try {
    config = options.readConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${options.name}: ${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  const app = await options.build(config);
  closeWithGrace({ delay: config.shutdownGraceMs }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'closing after an uncaught error');
    else app.log.info({ signal }, 'closing: finishing in-flight requests');
    await app.close();
  });
  await app.listen({ host: config.host, port: config.port });
}
