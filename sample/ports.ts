/** The port in the variable `name`, else `fallback`; `0` picks a free port. */
export function portFromEnv(name: string, fallback: number): number {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${name} must be a port number (0 picks a free port), not "${value}"`);
  }
  return port;
}
