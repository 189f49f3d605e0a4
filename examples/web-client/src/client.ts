// One way to build a qyzmet client: urql for queries and mutations (GET for queries, automatic
// persisted queries: only a hash travels once the server knows the query), graphql-ws for
// subscriptions over the same /graphql path, the access token in the Authorization header and
// in the socket's connection_init payload.
import { Client, cacheExchange, fetchExchange, subscriptionExchange } from '@urql/core';
import { persistedExchange } from '@urql/exchange-persisted';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';

export interface ClientOptions {
  /** The API's origin, e.g. `http://127.0.0.1:8080`. */
  origin: string;
  /** The current access token, if signed in. */
  token: () => string | undefined;
  /** A WebSocket implementation where there is no global one (Node.js 20: the `ws` package). */
  webSocketImpl?: unknown;
}

export interface Api {
  client: Client;
  sockets: WsClient;
}

export function makeClient(opts: ClientOptions): Api {
  const url = `${opts.origin}/graphql`;
  const sockets = createWsClient({
    url: url.replace(/^http/, 'ws'),
    ...(opts.webSocketImpl === undefined ? {} : { webSocketImpl: opts.webSocketImpl }),
    lazy: true,
    connectionParams: () => {
      const token = opts.token();
      return token ? { Authorization: `Bearer ${token}` } : {};
    },
  });
  const client = new Client({
    url,
    preferGetMethod: 'within-url-limit',
    requestPolicy: 'network-only',
    fetchOptions: () => {
      const token = opts.token();
      return { headers: token ? { authorization: `Bearer ${token}` } : {} };
    },
    exchanges: [
      cacheExchange,
      persistedExchange({ preferGetForPersistedQueries: 'within-url-limit' }),
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query ?? '' };
          return {
            subscribe(sink) {
              // urql's sink and graphql-ws's agree at run time; their declared result types
              // differ only in whether `data` may be `undefined`.
              const unsubscribe = sockets.subscribe(input, sink as Parameters<WsClient['subscribe']>[1]);
              return { unsubscribe };
            },
          };
        },
      }),
    ],
  });
  return { client, sockets };
}

/** The `extensions.code` of a result's first error, the stable thing to branch on. */
export function errorCode(error: { graphQLErrors: ReadonlyArray<{ extensions?: Record<string, unknown> }> } | undefined): string | undefined {
  const code = error?.graphQLErrors[0]?.extensions?.['code'];
  return typeof code === 'string' ? code : undefined;
}
