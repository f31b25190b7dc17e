'use strict';
// The command line every script here shares: `--name value` or `--name=value`, and the
// server's address (--port | env PORT | 2567, --host | env HOST | 127.0.0.1).

function argValue(name) {
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === name && i + 1 < argv.length) return argv[i + 1];
    if (argv[i].startsWith(name + '=')) return argv[i].slice(name.length + 1);
  }
  return undefined;
}

const PORT = Number(argValue('--port') ?? process.env.PORT ?? 2567);
const HOST = argValue('--host') ?? process.env.HOST ?? '127.0.0.1';

module.exports = { argValue, PORT, HOST };
