import { grafanaChecksum, validateGrafanaToken } from "../checksum.js";
import type { TokenRule } from "../types.js";
import { tokenPattern } from "./boundary.js";
import { exampleChars } from "./examples.js";

const head = `glsa_${exampleChars("grafana-service-account-token", 32)}`;
const token = `${head}_${grafanaChecksum(head)}`;

export const grafanaRules: TokenRule[] = [
  {
    id: "grafana-service-account-token",
    title: "Grafana service account token",
    provider: "grafana",
    category: "token",
    // glsa_ + 32 + _ + 8 hex: CRC-32 of the first 37 chars, little-endian.
    pattern: tokenPattern("glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}"),
    secretGroup: 0,
    validate: validateGrafanaToken,
    keywords: ["glsa_"],
    truePositives: [`GRAFANA_TOKEN=${token}`, `Authorization: Bearer ${token}`],
    falsePositives: [
      `GRAFANA_TOKEN=${head}_00000000`,
      `GRAFANA_TOKEN=glsa_${"x".repeat(32)}_${"0".repeat(8)}`,
    ],
  },
];
