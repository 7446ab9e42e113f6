/**
 * `GET /api/docs`: a reading view of the OpenAPI document (Scalar's API reference, loaded from its
 * CDN by the reader's browser; the Worker serves only this page and `/api/openapi.json`).
 */
import { Hono } from 'hono';

const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Tally API</title>
  </head>
  <body>
    <script id="api-reference" data-url="/api/openapi.json"></script>
    <script src="https://cdn.jsdelivr.net/npm/@scalar/api-reference@1"></script>
  </body>
</html>
`;

export const docsRoutes = new Hono<{ Bindings: Env }>().get('/api/docs', (c) => {
  c.header('Cache-Control', 'public, max-age=3600');
  return c.html(PAGE);
});
