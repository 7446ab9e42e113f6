/** Tally's version, reported by `GET /api/health`. Keep in step with the root package.json. */
export const VERSION = '0.1.0';
