// qyzmet's GraphiQL: every asset comes from this server (no CDN), so the IDE works on a closed
// network. Queries go to /graphql on this origin, subscriptions to the same path over WebSocket.
// Paste `{"Authorization": "Bearer <accessToken>"}` into the Headers tab after `login`; the same
// token is sent as the socket's connection_init payload.
(function () {
  var http = new URL('/graphql', window.location.origin);
  var ws = new URL('/graphql', window.location.origin);
  ws.protocol = ws.protocol === 'https:' ? 'wss:' : 'ws:';
  var fetcher = GraphiQL.createFetcher({
    url: http.toString(),
    subscriptionUrl: ws.toString(),
  });
  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: true,
      defaultQuery: '# qyzmet GraphQL API. Log in, then put the access token in Headers:\n#   {"Authorization": "Bearer <accessToken>"}\n\nmutation Login($username: String!, $password: String!) {\n  login(username: $username, password: $password) {\n    accessToken\n    refreshToken\n  }\n}\n',
    })
  );
})();
