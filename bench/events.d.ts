/**
 * Realistic traffic for the benchmark, from one seeded generator: what browsers send to
 * `POST /api/event` — the wire event, user agent, `request.cf` and `Accept-Language` — for the
 * ingest load, and for the rows of drain and query data (bench/rows.ts enriches it as ingest does).
 * The shapes follow a shop-like site: a long tail of pages, search and social referrers, a few
 * campaigns, browsers, countries and languages in plausible proportions, custom events with
 * properties.
 */
/** A seeded PRNG (mulberry32): the same seed gives the same data on every run. */
export declare function random(seed: number): () => number;
/**
 * Browsers' `User-Agent` headers, as they reach the Worker. What they say (browser, version, OS,
 * device) is ingest's business: `enrichEvent` parses them, as it does live traffic.
 */
export declare const AGENTS: readonly [{
    readonly weight: 32;
    readonly ua: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
}, {
    readonly weight: 20;
    readonly ua: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
}, {
    readonly weight: 13;
    readonly ua: "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36";
}, {
    readonly weight: 8;
    readonly ua: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";
}, {
    readonly weight: 5;
    readonly ua: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
}, {
    readonly weight: 6;
    readonly ua: "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
}, {
    readonly weight: 2;
    readonly ua: "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
}, {
    readonly weight: 7;
    readonly ua: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0";
}, {
    readonly weight: 3;
    readonly ua: "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/27.0 Chrome/125.0.0.0 Mobile Safari/537.36";
}, {
    readonly weight: 4;
    readonly ua: "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
}];
/** Places as `request.cf` gives them (country, region, city, timezone). */
export declare const PLACES: readonly [{
    readonly weight: 30;
    readonly cf: {
        readonly country: "US";
        readonly region: "California";
        readonly city: "San Francisco";
        readonly timezone: "America/Los_Angeles";
    };
}, {
    readonly weight: 10;
    readonly cf: {
        readonly country: "US";
        readonly region: "New York";
        readonly city: "New York";
        readonly timezone: "America/New_York";
    };
}, {
    readonly weight: 14;
    readonly cf: {
        readonly country: "DE";
        readonly region: "Berlin";
        readonly city: "Berlin";
        readonly timezone: "Europe/Berlin";
    };
}, {
    readonly weight: 9;
    readonly cf: {
        readonly country: "GB";
        readonly region: "England";
        readonly city: "London";
        readonly timezone: "Europe/London";
    };
}, {
    readonly weight: 7;
    readonly cf: {
        readonly country: "FR";
        readonly region: "Île-de-France";
        readonly city: "Paris";
        readonly timezone: "Europe/Paris";
    };
}, {
    readonly weight: 6;
    readonly cf: {
        readonly country: "IN";
        readonly region: "Karnataka";
        readonly city: "Bengaluru";
        readonly timezone: "Asia/Kolkata";
    };
}, {
    readonly weight: 5;
    readonly cf: {
        readonly country: "BR";
        readonly region: "São Paulo";
        readonly city: "São Paulo";
        readonly timezone: "America/Sao_Paulo";
    };
}, {
    readonly weight: 5;
    readonly cf: {
        readonly country: "JP";
        readonly region: "Tokyo";
        readonly city: "Tokyo";
        readonly timezone: "Asia/Tokyo";
    };
}, {
    readonly weight: 4;
    readonly cf: {
        readonly country: "CA";
        readonly region: "Ontario";
        readonly city: "Toronto";
        readonly timezone: "America/Toronto";
    };
}, {
    readonly weight: 4;
    readonly cf: {
        readonly country: "NL";
        readonly region: "North Holland";
        readonly city: "Amsterdam";
        readonly timezone: "Europe/Amsterdam";
    };
}, {
    readonly weight: 3;
    readonly cf: {
        readonly country: "AU";
        readonly region: "New South Wales";
        readonly city: "Sydney";
        readonly timezone: "Australia/Sydney";
    };
}, {
    readonly weight: 3;
    readonly cf: {
        readonly country: "PL";
        readonly region: "Mazovia";
        readonly city: "Warsaw";
        readonly timezone: "Europe/Warsaw";
    };
}];
/** The site's hostname (projects in the benchmark accept any). */
export declare const SITE_HOST = "shop.example.com";
/** 400 pages with a long tail: a few are most of the traffic. */
export declare const PAGES: readonly {
    weight: number;
    path: string;
}[];
export declare const pickAgent: (rand: () => number) => {
    readonly weight: 32;
    readonly ua: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
} | {
    readonly weight: 20;
    readonly ua: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
} | {
    readonly weight: 13;
    readonly ua: "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36";
} | {
    readonly weight: 8;
    readonly ua: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";
} | {
    readonly weight: 5;
    readonly ua: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
} | {
    readonly weight: 6;
    readonly ua: "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
} | {
    readonly weight: 2;
    readonly ua: "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
} | {
    readonly weight: 7;
    readonly ua: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0";
} | {
    readonly weight: 3;
    readonly ua: "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/27.0 Chrome/125.0.0.0 Mobile Safari/537.36";
} | {
    readonly weight: 4;
    readonly ua: "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
};
export declare const pickPlace: (rand: () => number) => {
    readonly weight: 30;
    readonly cf: {
        readonly country: "US";
        readonly region: "California";
        readonly city: "San Francisco";
        readonly timezone: "America/Los_Angeles";
    };
} | {
    readonly weight: 10;
    readonly cf: {
        readonly country: "US";
        readonly region: "New York";
        readonly city: "New York";
        readonly timezone: "America/New_York";
    };
} | {
    readonly weight: 14;
    readonly cf: {
        readonly country: "DE";
        readonly region: "Berlin";
        readonly city: "Berlin";
        readonly timezone: "Europe/Berlin";
    };
} | {
    readonly weight: 9;
    readonly cf: {
        readonly country: "GB";
        readonly region: "England";
        readonly city: "London";
        readonly timezone: "Europe/London";
    };
} | {
    readonly weight: 7;
    readonly cf: {
        readonly country: "FR";
        readonly region: "Île-de-France";
        readonly city: "Paris";
        readonly timezone: "Europe/Paris";
    };
} | {
    readonly weight: 6;
    readonly cf: {
        readonly country: "IN";
        readonly region: "Karnataka";
        readonly city: "Bengaluru";
        readonly timezone: "Asia/Kolkata";
    };
} | {
    readonly weight: 5;
    readonly cf: {
        readonly country: "BR";
        readonly region: "São Paulo";
        readonly city: "São Paulo";
        readonly timezone: "America/Sao_Paulo";
    };
} | {
    readonly weight: 5;
    readonly cf: {
        readonly country: "JP";
        readonly region: "Tokyo";
        readonly city: "Tokyo";
        readonly timezone: "Asia/Tokyo";
    };
} | {
    readonly weight: 4;
    readonly cf: {
        readonly country: "CA";
        readonly region: "Ontario";
        readonly city: "Toronto";
        readonly timezone: "America/Toronto";
    };
} | {
    readonly weight: 4;
    readonly cf: {
        readonly country: "NL";
        readonly region: "North Holland";
        readonly city: "Amsterdam";
        readonly timezone: "Europe/Amsterdam";
    };
} | {
    readonly weight: 3;
    readonly cf: {
        readonly country: "AU";
        readonly region: "New South Wales";
        readonly city: "Sydney";
        readonly timezone: "Australia/Sydney";
    };
} | {
    readonly weight: 3;
    readonly cf: {
        readonly country: "PL";
        readonly region: "Mazovia";
        readonly city: "Warsaw";
        readonly timezone: "Europe/Warsaw";
    };
};
export declare const pickReferrer: (rand: () => number) => {
    readonly weight: 40;
    readonly url: null;
} | {
    readonly weight: 25;
    readonly url: "https://www.google.com/";
} | {
    readonly weight: 4;
    readonly url: "https://www.bing.com/";
} | {
    readonly weight: 3;
    readonly url: "https://duckduckgo.com/";
} | {
    readonly weight: 5;
    readonly url: "https://t.co/abc123";
} | {
    readonly weight: 4;
    readonly url: "https://www.facebook.com/";
} | {
    readonly weight: 4;
    readonly url: "https://news.ycombinator.com/item";
} | {
    readonly weight: 4;
    readonly url: "https://www.reddit.com/r/webdev/comments/1";
} | {
    readonly weight: 3;
    readonly url: "https://github.com/tally/tally";
} | {
    readonly weight: 2;
    readonly url: "https://www.linkedin.com/feed/";
} | {
    readonly weight: 6;
    readonly url: "https://blog.partner.example/review-of-the-shop";
};
export declare const pickCampaign: (rand: () => number) => {
    readonly weight: 90;
    readonly query: "";
} | {
    readonly weight: 4;
    readonly query: "?utm_source=newsletter&utm_medium=email&utm_campaign=winter_sale";
} | {
    readonly weight: 3;
    readonly query: "?utm_source=twitter&utm_medium=social&utm_campaign=launch";
} | {
    readonly weight: 3;
    readonly query: "?utm_source=google&utm_medium=cpc&utm_campaign=brand&utm_term=shoes";
};
export declare const pickScreen: (rand: () => number) => {
    readonly weight: 35;
    readonly width: 390;
} | {
    readonly weight: 10;
    readonly width: 820;
} | {
    readonly weight: 30;
    readonly width: 1366;
} | {
    readonly weight: 25;
    readonly width: 1920;
};
export declare const pickPage: (rand: () => number) => {
    weight: number;
    path: string;
};
export declare const pickCustom: (rand: () => number) => {
    readonly weight: 50;
    readonly name: "add_to_cart";
    readonly props: {
        readonly product: "item-12";
        readonly variant: "blue";
    };
    readonly revenue: null;
} | {
    readonly weight: 25;
    readonly name: "signup";
    readonly props: {
        readonly plan: "pro";
    };
    readonly revenue: null;
} | {
    readonly weight: 15;
    readonly name: "download";
    readonly props: {
        readonly file: "guide.pdf";
    };
    readonly revenue: null;
} | {
    readonly weight: 10;
    readonly name: "purchase";
    readonly props: {
        readonly items: "2";
    };
    readonly revenue: {
        readonly a: 49.9;
        readonly c: "EUR";
    };
};
export declare const pickLanguage: (rand: () => number) => {
    readonly weight: 30;
    readonly header: "en-US,en;q=0.9";
} | {
    readonly weight: 9;
    readonly header: "en-GB,en-US;q=0.9,en;q=0.8";
} | {
    readonly weight: 12;
    readonly header: "de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7";
} | {
    readonly weight: 2;
    readonly header: "de";
} | {
    readonly weight: 7;
    readonly header: "fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7";
} | {
    readonly weight: 5;
    readonly header: "es-ES,es;q=0.9";
} | {
    readonly weight: 5;
    readonly header: "pt-BR,pt;q=0.9,en-US;q=0.8,en;q=0.7";
} | {
    readonly weight: 4;
    readonly header: "ja,en-US;q=0.9,en;q=0.8";
} | {
    readonly weight: 4;
    readonly header: "zh-CN,zh;q=0.9";
} | {
    readonly weight: 3;
    readonly header: "en-IN,en-GB;q=0.9,en-US;q=0.8,en;q=0.7,hi;q=0.6";
} | {
    readonly weight: 3;
    readonly header: "nl-NL,nl;q=0.9,en-US;q=0.8,en;q=0.7";
} | {
    readonly weight: 2;
    readonly header: "pl-PL,pl;q=0.9,en-US;q=0.8,en;q=0.7";
} | {
    readonly weight: 1;
    readonly header: "zh-TW,zh;q=0.9,en-US;q=0.8,en;q=0.7";
} | {
    readonly weight: 2;
    readonly header: "";
};
/** A request a browser would make: headers (with `request.cf` as Miniflare's header) and body. */
export interface WireRequest {
    headers: Record<string, string>;
    body: string;
}
/**
 * `count` distinct ingest requests from `visitors` simulated visitors (IP, user agent and place
 * each), of `eventsPerRequest` events each: the first a pageview, the rest a mix of further
 * pageviews and custom events (a batch is what the SDK sends for one visitor).
 */
export declare function wireRequests(siteKey: string, count: number, eventsPerRequest: number, seed?: number): WireRequest[];
