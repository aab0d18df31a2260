import { createClient } from '@redis/client';
import { reasonOf } from '../realm';
import { type RedisSettings, unavailable } from './settings';

/** A command that has not answered in this long counts as Redis being unavailable (a paused or stuck server). */
const COMMAND_TIMEOUT_MS = 5000;
/** How long a command waits for the first connection of a config node before it counts Redis as unavailable. */
const FIRST_CONNECTION_WAIT_MS = 3000;
/** Reconnection waits grow to this and stay there while Redis is down: it is back within a couple of seconds. */
const MAX_RECONNECT_DELAY_MS = 2000;

/**
 * One connection to the Redis server of a config node, shared by its nodes. Commands fail at once while it
 * is down (no offline queue: a command queued during an outage would run, late, after the lease it relied on
 * had passed) and it reconnects on its own. Every error it gives out is a COORDINATION_UNAVAILABLE
 * DefenderError whose text never holds the password.
 */
export class RedisLink {
  private readonly client: ReturnType<typeof createClient>;
  private closed = false;
  /** Settles once the first connection is up (or never was): commands of a fresh deploy wait for it a while. */
  private readonly firstConnection: Promise<void>;
  private wasReady = false;

  constructor(readonly settings: RedisSettings) {
    this.client = createClient({
      url: settings.url,
      ...(settings.username ? { username: settings.username } : {}),
      ...(settings.password ? { password: settings.password } : {}),
      disableOfflineQueue: true,
      socket: { connectTimeout: COMMAND_TIMEOUT_MS, reconnectStrategy: (retries: number) => Math.min(100 * 2 ** Math.min(retries, 5), MAX_RECONNECT_DELAY_MS) },
    });
    // Errors of the connection are known from the commands that fail; an unheard 'error' event would end the process.
    this.client.on('error', () => undefined);
    this.client.on('ready', () => (this.wasReady = true));
    this.firstConnection = this.client.connect().then(
      () => undefined,
      () => undefined,
    );
  }

  /** Whether commands can be sent now. */
  get ready(): boolean {
    return this.client.isReady;
  }

  /** Runs a Lua script (scripts are short: EVAL each time, no script cache to lose across a Redis restart). */
  async eval(script: string, keys: string[], args: string[]): Promise<unknown> {
    return this.command(() => this.client.eval(script, { keys, arguments: args }));
  }

  async get(key: string): Promise<string | null> {
    return this.command(async () => {
      const value = await this.client.get(key);
      return value === null ? null : String(value);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.client.isReady) await this.client.close();
      else this.client.destroy();
    } catch {
      this.client.destroy();
    }
  }

  private async command<T>(run: () => Promise<T>): Promise<T> {
    if (this.closed) throw unavailable('the connection is closed', this.settings);
    // Right after a deploy the connection is still being made: the first trigger waits for it rather than
    // reporting an outage that is not one. Later, while Redis is down, commands fail at once.
    if (!this.wasReady) await Promise.race([this.firstConnection, new Promise((resolve) => setTimeout(resolve, FIRST_CONNECTION_WAIT_MS).unref())]);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${COMMAND_TIMEOUT_MS} ms`)), COMMAND_TIMEOUT_MS);
    });
    try {
      return await Promise.race([run(), late]);
    } catch (err) {
      throw unavailable(reasonOf(err), this.settings);
    } finally {
      clearTimeout(timer);
    }
  }
}
