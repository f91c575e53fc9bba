// Where CLI output goes. Commands write through these (not process.stdout directly) so tests can run main()
// in-process and capture it.
export const io = {
  out(s: string): void {
    process.stdout.write(s);
  },
  err(s: string): void {
    process.stderr.write(s);
  },
};
