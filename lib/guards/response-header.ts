interface HeaderResponse {
  header?(name: string, value: string): unknown;
  setHeader?(name: string, value: string): unknown;
}

/** Sets a response header on Express (`res.header`/`setHeader`) and Fastify (`reply.header`). */
export function setResponseHeader(response: unknown, name: string, value: string): void {
  const res = response as HeaderResponse;
  if (typeof res.header === 'function') res.header(name, value);
  else if (typeof res.setHeader === 'function') res.setHeader(name, value);
}
