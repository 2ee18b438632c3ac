import { describe, expect, it } from 'vitest';
import type { ReactElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { StaticI18n } from '../i18n';
import { DataTable, sortRows, type Column } from './DataTable';
import type { Async } from './ui';

interface Row {
  name: string;
  units: number | null;
}

const columns: Array<Column<Row>> = [
  { id: 'name', header: 'op.tenant', cell: (r) => r.name, rowHeader: true, sortValue: (r) => r.name },
  { id: 'units', header: 'op.units', cell: (r) => String(r.units ?? '—'), numeric: true, sortValue: (r) => r.units },
  { id: 'act', header: 'keys.revoke', headerHidden: true, cell: () => 'x' },
];
const rows: Row[] = [
  { name: 'b', units: 20 },
  { name: 'a', units: null },
  { name: 'c', units: 3 },
];

const render = (el: ReactElement, lang: 'en' | 'id' = 'en') =>
  renderToStaticMarkup(
    <StaticI18n lang={lang} zone="UTC">
      {el}
    </StaticI18n>,
  );

const async = (over: Partial<Async<Row[]>>): Async<Row[]> => ({ data: undefined, error: undefined, loading: true, reload: () => {}, ...over });

describe('DataTable', () => {
  it('renders a caption, scoped headers in the language, numeric cells right-aligned and row data', () => {
    const html = render(<DataTable columns={columns} rows={rows} rowKey={(r) => r.name} caption="Tenants by units" testId="t" rowProps={(r) => ({ 'data-name': r.name })} />, 'id');
    expect(html).toContain('<caption class="visually-hidden">Tenants by units</caption>');
    expect(html).toContain('data-testid="t"');
    expect(html.match(/<th scope="col"/g)).toHaveLength(3);
    expect(html).toContain('Penyewa'); // op.tenant in Bahasa Indonesia
    expect(html).toContain('<th scope="col" class="num" aria-sort="none">');
    expect(html).toContain('<td class="num">20</td>');
    expect(html).toContain('<th scope="row">b</th>');
    expect(html).toContain('<tr data-name="c">');
    // A hidden header still names the column for a screen reader.
    expect(html).toContain('<span class="visually-hidden">Cabut</span>');
    // The scroller is focusable (keyboard scrolling at phone width).
    expect(html).toMatch(/^<div class="table-wrap" tabindex="0">/);
    // Rows in the given order without a sort.
    expect([...html.matchAll(/<th scope="row">(\w)<\/th>/g)].map((m) => m[1])).toEqual(['b', 'a', 'c']);
  });

  it('applies an initial sort and says so with aria-sort', () => {
    const html = render(<DataTable columns={columns} rows={rows} rowKey={(r) => r.name} caption="c" initialSort={{ column: 'units', dir: 'desc' }} />);
    expect([...html.matchAll(/<th scope="row">(\w)<\/th>/g)].map((m) => m[1])).toEqual(['b', 'c', 'a']);
    expect(html).toContain('aria-sort="descending"');
    expect(html).toContain('<button type="button" class="sort" title="Sort by this column">Units');
  });

  it('shows the empty, loading and error states', () => {
    expect(render(<DataTable columns={columns} rows={[]} rowKey={(r) => r.name} caption="c" />)).toContain('Nothing here yet.');
    expect(render(<DataTable columns={columns} rows={[]} rowKey={(r) => r.name} caption="c" empty="No tenants" />)).toContain('No tenants');
    expect(render(<DataTable columns={columns} a={async({})} rowKey={(r) => r.name} caption="c" />)).toContain('state-loading');
    const err = render(<DataTable columns={columns} a={async({ error: new Error('boom'), loading: false })} rowKey={(r) => r.name} caption="c" />);
    expect(err).toContain('role="alert"');
    expect(err).toContain('boom');
    const data = render(<DataTable columns={columns} a={async({ data: rows, loading: false })} rowKey={(r) => r.name} caption="c" />);
    expect(data).toContain('<table');
  });
});

describe('sortRows', () => {
  it('sorts numbers and strings both ways, missing values last, stable on ties', () => {
    const names = (rs: Row[]) => rs.map((r) => r.name);
    expect(names(sortRows(rows, columns, { column: 'units', dir: 'asc' }))).toEqual(['c', 'b', 'a']);
    expect(names(sortRows(rows, columns, { column: 'units', dir: 'desc' }))).toEqual(['b', 'c', 'a']);
    expect(names(sortRows(rows, columns, { column: 'name', dir: 'asc' }))).toEqual(['a', 'b', 'c']);
    expect(names(sortRows(rows, columns, { column: 'act', dir: 'asc' }))).toEqual(['b', 'a', 'c']); // not sortable
    const ties = [
      { name: 'x', units: 1 },
      { name: 'y', units: 1 },
    ];
    expect(names(sortRows(ties, columns, { column: 'units', dir: 'desc' }))).toEqual(['x', 'y']);
    expect(sortRows(rows, columns, null)).toBe(rows);
  });
});
