import type { TokenRule } from "../types.js";
import { tokenPattern } from "./boundary.js";
import { exampleChars } from "./examples.js";

const live = `sk_live_${exampleChars("stripe/live", 99)}`;
const test = `sk_test_${exampleChars("stripe/test", 24)}`;
const restricted = `rk_live_${exampleChars("stripe/restricted", 99)}`;
const webhook = `whsec_${exampleChars("stripe/webhook", 32)}`;

export const stripeRules: TokenRule[] = [
  {
    id: "stripe-secret-key",
    title: "Stripe secret key",
    provider: "stripe",
    category: "api-key",
    // `_live_` vs `_test_` sets severity; test-mode keys still act on the account's test data.
    pattern: tokenPattern("sk_(?:test|live|prod)_[A-Za-z0-9]{24,247}"),
    secretGroup: 0,
    keywords: ["sk_test_", "sk_live_", "sk_prod_"],
    entropy: 3,
    truePositives: [`STRIPE_SECRET_KEY=${live}`, `stripe.api_key = "${test}"`],
    falsePositives: [
      `STRIPE_PUBLISHABLE_KEY=pk_live_${exampleChars("stripe/pk", 99)}`,
      "STRIPE_SECRET_KEY=sk_test_xxxxxxxxxxxxxxxxxxxxxxxx",
      "STRIPE_SECRET_KEY=sk_test_YOUR_SECRET_KEY",
      "STRIPE_SECRET_KEY=sk_test_1234567890",
    ],
  },
  {
    id: "stripe-restricted-key",
    title: "Stripe restricted API key",
    provider: "stripe",
    category: "api-key",
    pattern: tokenPattern("rk_(?:test|live|prod)_[A-Za-z0-9]{24,247}"),
    secretGroup: 0,
    keywords: ["rk_test_", "rk_live_", "rk_prod_"],
    entropy: 3,
    truePositives: [`STRIPE_KEY=${restricted}`],
    falsePositives: [
      "STRIPE_KEY=rk_live_<restricted-key>",
      "STRIPE_KEY=rk_live_000000000000000000000000",
    ],
  },
  {
    id: "stripe-webhook-secret",
    title: "Stripe webhook signing secret",
    provider: "stripe",
    category: "api-key",
    pattern: tokenPattern("whsec_[A-Za-z0-9]{32,64}"),
    secretGroup: 0,
    keywords: ["whsec_"],
    entropy: 3,
    truePositives: [`STRIPE_WEBHOOK_SECRET=${webhook}`],
    falsePositives: [
      "STRIPE_WEBHOOK_SECRET=whsec_...",
      `STRIPE_WEBHOOK_SECRET=whsec_${"x".repeat(32)}`,
    ],
  },
];
