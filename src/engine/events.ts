/** A small typed event emitter (the engine runs in Node everywhere it runs). */
import { EventEmitter } from 'node:events';

export class TypedEmitter<Events extends { [K in keyof Events]: (...args: any[]) => void }> {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(100);
  }

  on<K extends keyof Events & string>(event: K, listener: Events[K]): () => void {
    this.emitter.on(event, listener);
    return () => this.emitter.off(event, listener);
  }

  once<K extends keyof Events & string>(event: K, listener: Events[K]): void {
    this.emitter.once(event, listener);
  }

  off<K extends keyof Events & string>(event: K, listener: Events[K]): void {
    this.emitter.off(event, listener);
  }

  protected emit<K extends keyof Events & string>(event: K, ...args: Parameters<Events[K]>): void {
    this.emitter.emit(event, ...args);
  }
}
