import { createInterface } from 'node:readline/promises';

/**
 * Ask a yes/no question on the terminal: the question goes to stderr (stdout stays data only),
 * the answer comes from stdin. Only "y" or "yes" (any case) is yes; Ctrl-D or Ctrl-C is no.
 */
export async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  const closed = new Promise<string>((resolve) => rl.once('close', () => resolve('')));
  // Ctrl-C at the prompt: answer "no" rather than leave the terminal half-way.
  rl.once('SIGINT', () => rl.close());
  try {
    const answer = await Promise.race([rl.question(`${question} [y/N] `), closed]);
    return /^(y|yes)$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

/** Whether a person can answer a prompt: stdin and stderr are both terminals. */
export function canPrompt(): boolean {
  return Boolean(process.stdin.isTTY && process.stderr.isTTY);
}
