// Secrets are not in wrangler.toml, so `wrangler types` cannot see them; they are declared here.
interface Env {
  /** Server pepper for API key HMACs (`wrangler secret put API_KEY_PEPPER`; `.dev.vars` locally). */
  API_KEY_PEPPER: string;
}
declare namespace Cloudflare {
  interface Env {
    API_KEY_PEPPER: string;
  }
}
