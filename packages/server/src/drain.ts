import type { FastifyInstance } from 'fastify';

/**
 * Makes `app.close()` end as soon as no request is in flight. Node's `server.close()` waits for
 * every connection to end, and closes only those idle between requests: a connection a client
 * opened and has not used yet (HTTP clients keep spares) stays until its headers timeout, a
 * minute. Once closing and no response is pending, every connection is closed.
 */
export function closeConnectionsWhenDrained(app: FastifyInstance): void {
  let inFlight = 0;
  let closing = false;
  const closeIfDrained = (): void => {
    if (closing && inFlight === 0) app.server.closeAllConnections();
  };
  app.server.on('request', (_request, response) => {
    inFlight++;
    response.once('close', () => {
      inFlight--;
      setImmediate(closeIfDrained); // after Node has finished with the response
    });
  });
  app.addHook('preClose', async () => {
    closing = true;
    setImmediate(closeIfDrained); // after server.close(), which follows the preClose hooks
  });
}
