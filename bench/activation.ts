export async function runActivationBench(log: (s: string) => void): Promise<void> {
  log('# activation: not yet');
}
