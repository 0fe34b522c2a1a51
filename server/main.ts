/**
 * Server entry: `npm run serve -- [--host H] [--port P] [--data-dir D] [--robot sim|rosbridge] [--config file.json]`.
 * Prints the URL with the token in the fragment (never sent to servers or logged by
 * proxies); the app reads it from there.
 */
import { synopsis, usage } from '../src/cli/args.ts';
import { loadConfigFile, parseArgs, SERVER_OPTIONS } from './config.ts';
import { startServer } from './app.ts';

const CLI = { name: 'serve', command: 'npm run serve --', description: 'PRTS Workbench server', options: SERVER_OPTIONS } as const;

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`serve: ${(e as Error).message}\n${synopsis(CLI)}\n`);
    process.exit(2);
  }
  if (parsed.help) {
    process.stdout.write(usage(CLI));
    return;
  }
  const fileConfig = parsed.configPath ? (loadConfigFile(parsed.configPath) as Record<string, unknown>) : {};
  if (typeof fileConfig !== 'object' || fileConfig === null || Array.isArray(fileConfig)) throw new Error('config file must hold a JSON object');
  const server = await startServer({ config: { ...fileConfig, ...parsed.overrides } });
  const c = server.config;
  if (c.host !== '127.0.0.1' && c.host !== 'localhost' && c.host !== '::1') {
    process.stderr.write(`WARNING: bound to ${c.host}: anyone who can reach this address and has the token can drive the robot.\n`);
  }
  process.stdout.write(
    `PRTS Workbench server ${server.url}\n` +
      `  open:        ${server.url}/#token=${server.token}\n` +
      `  token:       ${server.token}\n` +
      `  admin token: ${server.adminToken}\n` +
      `  robot:       ${server.driver.info.name} (${server.driver.info.driver}), data: ${c.dataDir}\n` +
      `  built-in datasets (read-only): ${server.builtinDir}\n`,
  );
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) {
      process.stderr.write(`${sig} again: exiting now\n`);
      process.exit(1);
    }
    stopping = true;
    process.stdout.write(`${sig}: holding the robot, closing recordings and connections...\n`);
    server.close().then(
      () => process.exit(0),
      (e: Error) => {
        process.stderr.write(`shutdown error: ${e.message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((e: Error) => {
  process.stderr.write(`${e.message}\n`);
  process.exit(1);
});
