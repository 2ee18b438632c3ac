import { describe, expect, it } from 'vitest';
import type { ReactElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { StaticI18n } from '../i18n';
import { HorizonPicker } from './horizon';

const render = (el: ReactElement, lang: 'en' | 'id' = 'en') =>
  renderToStaticMarkup(
    <StaticI18n lang={lang} zone="UTC">
      {el}
    </StaticI18n>,
  );

describe('HorizonPicker', () => {
  it('is a labelled radio group, one radio per served horizon, the chosen one checked', () => {
    const html = render(<HorizonPicker served={[1, 4, 24]} horizon={4} timeframe="H1" onChange={() => {}} />);
    expect(html).toMatch(/^<fieldset[^>]*aria-describedby="([^"]+)-hint"/);
    expect(html).toContain('<legend>Horizon (model)</legend>');
    const radios = [...html.matchAll(/<label[^>]*><input type="radio" name="[^"]+"( checked="")? value="(\d+)"\/>([^<]+)<\/label>/g)].map((m) => [m[2], !!m[1], m[3]]);
    expect(radios).toEqual([
      ['1', false, 'next bar (1 hour)'],
      ['4', true, 'next 4 bars (4 hours)'],
      ['24', false, 'next 24 bars (24 hours)'],
    ]);
    const names = new Set([...html.matchAll(/name="([^"]+)"/g)].map((m) => m[1]));
    expect(names.size).toBe(1); // one group: arrow keys move within it
  });

  it('speaks Bahasa Indonesia with the time span of the timeframe', () => {
    const html = render(<HorizonPicker served={[1, 24]} horizon={24} timeframe="D1" onChange={() => {}} />, 'id');
    expect(html).toContain('bar berikutnya (1 hari)');
    expect(html).toContain('24 bar berikutnya (24 hari)');
  });
});
