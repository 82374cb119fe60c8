// Commands write through this instead of console so tests can capture what a person sees.
export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

export type Command = (args: string[], io: CliIo) => Promise<number>;

export const processIo: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};
