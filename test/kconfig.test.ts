// configEntry (one name searched in the config's text) answers as the parsed map does.
import { describe, expect, it } from 'vitest';
import { configEntry, kernelConfig, kernelConfigEntry } from '../src/loader/kconfig.js';

const parse = (text: string) => {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const mm = /^(CONFIG_\w+)=(.*)$/.exec(line);
    if (mm) m.set(mm[1]!, mm[2]!);
  }
  return m;
};

describe('kernel config', () => {
  it('configEntry gives what the parsed map gives: last line wins, whole names only, comments and CR lines skipped', () => {
    const text = [
      'CONFIG_A=y',
      '# CONFIG_B is not set',
      'XCONFIG_C=1',
      'CONFIG_C=2',
      'CONFIG_D="a b"',
      'CONFIG_A=m',
      'CONFIG_E=1\r',
      'CONFIG_E=0',
      'CONFIG_F=x\r',
      ' CONFIG_G=1',
      'CONFIG_HZ_250=y',
      'CONFIG_HZ=250',
      'CONFIG_LAST=9',
    ].join('\n');
    const m = parse(text);
    for (const n of ['CONFIG_A', 'CONFIG_B', 'CONFIG_C', 'CONFIG_D', 'CONFIG_E', 'CONFIG_F', 'CONFIG_G', 'CONFIG_HZ', 'CONFIG_HZ_250', 'CONFIG_LAST', 'CONFIG_', 'HZ', 'CONFIG_A=']) {
      expect(configEntry(text, n), n).toBe(m.get(n));
    }
    expect(configEntry(text, 'CONFIG_A')).toBe('m');
    expect(configEntry('', 'CONFIG_A')).toBeUndefined();
  });

  it("the running kernel's config: every entry found by search equals the map's", () => {
    const before = kernelConfigEntry('CONFIG_HZ');
    const map = kernelConfig();
    expect(before).toBe(map.get('CONFIG_HZ'));
    const text = [...map].map(([k, v]) => `${k}=${v}`).join('\n');
    for (const [k, v] of map) expect(configEntry(text, k)).toBe(v);
  });
});
