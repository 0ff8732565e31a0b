import { describe, expect, it } from 'vitest';
import { emptyHostConfig } from '../src/host/config.js';
import type { MainChannel } from '../src/host/channel.js';
import { buildImports } from '../src/host/imports.js';
import { Session } from '../src/host/session.js';
import { sessionView } from '../src/host/session-view.js';
import { createWasi } from '../src/host/wasi.js';

const channel = { call: () => ({}), notify() {}, post() {} } as unknown as MainChannel;
const newSession = () => new Session(channel, emptyHostConfig(), undefined);

class Thing {
  constructor(readonly session: Session) {}
  static open(session: Session, name: string): Thing & { name: string } {
    return Object.assign(new Thing(session), { name });
  }
}

describe('sessionView', () => {
  it("binds a class's statics to one session and keeps the class's instanceof and prototype", () => {
    const one = newSession();
    const other = newSession();
    const viewOne = sessionView(Thing, one, ['open']);
    const viewOther = sessionView(Thing, other, ['open']);
    const opened = viewOne.open('a');
    expect(opened.session).toBe(one);
    expect(opened.name).toBe('a');
    expect(viewOther.open('b').session).toBe(other);
    expect(viewOne.prototype).toBe(Thing.prototype);
    expect(opened instanceof (viewOne as unknown as typeof Thing)).toBe(true);
    // What jco makes of a handle it did not capture: an object of the class's prototype.
    expect(Object.create(viewOther.prototype) instanceof (viewOther as unknown as typeof Thing)).toBe(true);
    expect({} instanceof (viewOne as unknown as typeof Thing)).toBe(false);
    expect((7 as unknown) instanceof (viewOne as unknown as typeof Thing)).toBe(false);
  });
});

// Regression (cost): the host declared its resource classes inside per-session factories, so
// every fresh instance defined ~40 classes (~0.3 ms). Every resource is one class for all sessions.
describe('the import object of a fresh instance', () => {
  it('gives every session the same resource classes', () => {
    const imports = () => buildImports(newSession(), createWasi({ env: {}, args: [], lines: true, output() {} }));
    const [first, second] = [imports(), imports()];
    const fastly = Object.keys(first).filter((name) => name.startsWith('fastly:'));
    let resources = 0;
    for (const name of fastly) {
      for (const [member, value] of Object.entries(first[name]!)) {
        const prototype = (value as { prototype?: unknown } | undefined)?.prototype;
        if (typeof prototype !== 'object' || prototype === null) continue;
        resources++;
        expect((second[name]![member] as { prototype: unknown }).prototype, `${name} ${member}`).toBe(prototype);
      }
    }
    expect(resources).toBeGreaterThan(30);
  });
});
