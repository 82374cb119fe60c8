import { createInterface } from 'node:readline';
import { startGitHttpServer } from './git-http-server.ts';

// git-http-server.ts as a process of its own, so that it can run inside a lab host's
// namespace and serve agents there (a test process cannot listen in another namespace).
// Run as `node --import tsx git-http-serve.ts HOST [SIGNING_KEY]`; prints READY <json
// {url, bare}>, then takes one JSON command per line on stdin — {"push": {files, message,
// sign?}} answers PUSHED <commit>, {"forcePush": commit} answers FORCED — and ends on
// stdin's end.

const [host = '127.0.0.1', signingKey] = process.argv.slice(2);
const server = await startGitHttpServer({ host, ...(signingKey ? { signingKey } : {}) });
process.stdout.write(`READY ${JSON.stringify({ url: server.url, bare: server.bare })}\n`);
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  try {
    const cmd = JSON.parse(line) as {
      push?: { files: Record<string, string | null>; message: string; sign?: boolean };
      forcePush?: string;
    };
    if (cmd.push)
      process.stdout.write(
        `PUSHED ${server.push(cmd.push.files, cmd.push.message, undefined, cmd.push.sign ?? true)}\n`,
      );
    if (cmd.forcePush) {
      server.forcePush(cmd.forcePush);
      process.stdout.write('FORCED\n');
    }
  } catch (e) {
    process.stdout.write(`ERROR ${JSON.stringify(String(e))}\n`);
  }
});
rl.on('close', () => void server.close().then(() => process.exit(0)));
