/**
 * A hidden prompt on the controlling terminal: typed characters are not echoed.
 * Returns undefined when stdin is not a terminal, so callers fall back to env or fail clearly.
 */
export function hiddenPrompt(
  stdin: NodeJS.ReadStream,
  stderr: NodeJS.WriteStream,
): ((question: string) => Promise<string>) | undefined {
  if (!stdin.isTTY) return undefined;
  return async (question) => {
    // Loaded when asked: most runs have a key source and never prompt.
    const { createInterface } = await import("node:readline");
    return new Promise((resolve, reject) => {
      const rl = createInterface({ input: stdin, output: stderr, terminal: true });
      // readline echoes through _writeToOutput; muting it keeps the secret off the screen.
      const muted = rl as unknown as { _writeToOutput: (s: string) => void };
      stderr.write(question);
      muted._writeToOutput = () => {};
      rl.question("", (answer) => {
        rl.close();
        stderr.write("\n");
        resolve(answer);
      });
      rl.on("SIGINT", () => {
        rl.close();
        reject(new Error("cancelled"));
      });
    });
  };
}

/** Reads all of stdin as UTF-8 (for values and leaked strings piped in). */
export async function readStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin)
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return Buffer.concat(chunks).toString("utf8");
}
