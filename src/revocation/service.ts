/** `keyward revoke` on an open session: the runbook wired to the store, log, providers, config and control sockets. */
import { homedir, setPriority } from "node:os";
import { dirname, resolve } from "node:path";
import { parseDuration } from "../core/duration.js";
import { KeywardError } from "../core/errors.js";
import type { Session } from "../secrets/session.js";
import {
  DEFAULT_WAIT_MS,
  type RevocationResult,
  revokeSecret,
  type StepResult,
} from "./runbook.js";

export interface RevokeRequest {
  reason: string;
  version?: number;
  rotate: boolean;
  rotateFirst?: boolean;
  /** Mint the new value locally when the provider cannot rotate (secrets keyward owns). */
  generate: boolean;
  /** Overrides `revocation.wait`. */
  waitMs?: number;
  /** `--repo` paths, besides `revocation.repositories` and the current repository. */
  repositories: string[];
  /** False for `--no-scan`. */
  scan: boolean;
  cwd: string;
  onStep?(step: StepResult): void;
}

/** git runs at lower priority than the proxies step 4 restarts (2 cores, all at once). */
const SCAN_NICENESS = 10;

export async function revokeWithSession(
  session: Session,
  name: string,
  request: RevokeRequest,
): Promise<RevocationResult> {
  if (request.reason.trim() === "") {
    throw new KeywardError(
      "usage",
      "--reason must say why the key is revoked",
      'keyward revoke <secret> --reason "leaked in a CI log"',
    );
  }
  const record = await session.store.get(name);
  if (record === undefined) {
    throw new KeywardError(
      "not_found",
      `no secret named ${name}`,
      "`keyward secret ls` lists the secrets",
    );
  }
  const providerId = record.metadata.provider;
  const revocationConfig = session.config?.config.revocation;
  const wait = revocationConfig?.wait;
  return revokeSecret(
    {
      store: session.store,
      log: session.log,
      actor: session.actor,
      home: session.home,
      now: () => new Date(),
      method: async () => {
        // Loaded after step 1: the providers take longer to load than the disable takes.
        const { getProvider } = await import("../providers/registry.js");
        const { providerContext, rotationServices } = await import("../rotation/services.js");
        const services = rotationServices(session, { generate: request.generate });
        return {
          provider: providerId ? getProvider(providerId) : undefined,
          providerCtx: providerContext(session, providerId),
          rotation: { ...services, ...services.methodFor(record) },
        };
      },
      // Loaded when used, like method(): step 1 needs none of them.
      reloadProxies: async (secrets, timeoutMs) => {
        const { notifyProxies } = await import("../control/notify.js");
        return notifyProxies(session.home, secrets, timeoutMs);
      },
      notifier: async () => (await import("../notify/config.js")).sessionNotifier(session),
      ...(request.onStep ? { onStep: request.onStep } : {}),
      onScanSpawn: (pid) => {
        try {
          setPriority(pid, SCAN_NICENESS);
        } catch {
          // not permitted here: the scan runs at normal priority
        }
      },
    },
    name,
    {
      reason: request.reason,
      rotate: request.rotate,
      rotateFirst: request.rotateFirst === true,
      waitMs: request.waitMs ?? (wait === undefined ? DEFAULT_WAIT_MS : parseDuration(wait) * 1000),
      repositories: request.scan
        ? [
            ...resolvePaths(revocationConfig?.repositories ?? [], session.config?.path),
            ...request.repositories.map((p) => resolve(request.cwd, p)),
          ]
        : [],
      ...(request.scan ? { currentDirectory: request.cwd } : {}),
      ...(request.version === undefined ? {} : { version: request.version }),
    },
  );
}

/** `revocation.repositories`: relative to the config file's folder, `~` for the home folder. */
function resolvePaths(paths: readonly string[], configPath: string | undefined): string[] {
  const base = configPath === undefined ? process.cwd() : dirname(configPath);
  return paths.map((p) =>
    p === "~" ? homedir() : p.startsWith("~/") ? resolve(homedir(), p.slice(2)) : resolve(base, p),
  );
}
