// The one table of the dashboard: typed columns (an i18n header key, a cell renderer, numbers
// aligned right in tabular figures, an optional sort), a caption (visually hidden by default: the
// card around a table usually says the same), th scope on every header, the loading / error /
// empty states, and the phone-width behaviour (the table scrolls sideways inside a focusable
// wrapper, so the page never does and a keyboard user can scroll it with the arrow keys).
import { useMemo, useState, type HTMLAttributes, type ReactNode } from 'react';
import { useI18n, type Key } from '../i18n';
import { Empty, ErrorState, Loading, type Async } from './ui';

// A header: an i18n key (with its variables), or a text that is data, not a string of the UI
// (a plan's display name as a column of the plans table).
export type Header = Key | { key: Key; vars?: Record<string, string | number> } | { text: ReactNode };

export interface Column<R> {
  id: string;
  header: Header;
  headerHidden?: boolean; // a visually-hidden header (a column of buttons)
  cell: (row: R) => ReactNode;
  numeric?: boolean; // right-aligned, tabular figures
  rowHeader?: boolean; // the cell is the row's header (th scope="row")
  className?: string | ((row: R) => string | undefined);
  headerClassName?: string;
  // A column that sorts: the value rows are ordered by (numbers, strings or times as ISO text).
  sortValue?: (row: R) => number | string | null | undefined;
  testId?: string | ((row: R) => string | undefined); // data-testid of the cell
}

export type SortDir = 'asc' | 'desc';
export interface SortState {
  column: string;
  dir: SortDir;
}

type RowAttrs = HTMLAttributes<HTMLTableRowElement> & Record<`data-${string}`, string | number | undefined>;

export interface DataTableProps<R> {
  columns: Array<Column<R>>;
  rowKey: (row: R, index: number) => string | number; // index: the row's place in `rows`, before sorting
  // Either the rows, or the Async that loads them (then loading and error states are shown here).
  rows?: R[];
  a?: Async<R[]>;
  caption: ReactNode; // the table's accessible name
  captionVisible?: boolean;
  testId?: string;
  className?: string;
  wrapClassName?: string;
  rowProps?: (row: R) => RowAttrs;
  empty?: ReactNode; // the empty state (default: "Nothing here yet.")
  initialSort?: SortState;
}

// Rows ordered by a column's sortValue; missing values (null, undefined, NaN) last in both
// directions; stable for equal values.
export function sortRows<R>(rows: R[], columns: Array<Column<R>>, sort: SortState | null): R[] {
  const col = sort && columns.find((c) => c.id === sort.column);
  if (!sort || !col?.sortValue) return rows;
  const get = col.sortValue;
  const sign = sort.dir === 'asc' ? 1 : -1;
  const missing = (v: unknown) => v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v));
  return rows
    .map((r, i) => ({ r, i, v: get(r) }))
    .sort((x, y) => {
      const mx = missing(x.v);
      const my = missing(y.v);
      if (mx || my) return mx === my ? x.i - y.i : mx ? 1 : -1;
      const c = typeof x.v === 'number' && typeof y.v === 'number' ? x.v - y.v : String(x.v).localeCompare(String(y.v));
      return c !== 0 ? sign * c : x.i - y.i;
    })
    .map((x) => x.r);
}

function useHeaderText() {
  const { t } = useI18n();
  return (h: Header): ReactNode => (typeof h === 'string' ? t(h) : 'key' in h ? t(h.key, h.vars) : h.text);
}

export function DataTable<R>(props: DataTableProps<R>) {
  const { a } = props;
  if (a) {
    if (a.error && !a.data) return <ErrorState error={a.error} retry={a.reload} />;
    if (a.data === undefined) return <Loading />;
    return <Table {...props} rows={a.data} />;
  }
  return <Table {...props} rows={props.rows ?? []} />;
}

function Table<R>({ columns, rowKey, rows, caption, captionVisible, testId, className, wrapClassName, rowProps, empty, initialSort }: DataTableProps<R> & { rows: R[] }) {
  const { t } = useI18n();
  const headerText = useHeaderText();
  const [sort, setSort] = useState<SortState | null>(initialSort ?? null);
  const keys = useMemo(() => new Map(rows.map((r, i) => [r, rowKey(r, i)])), [rows, rowKey]);
  const sorted = useMemo(() => sortRows(rows, columns, sort), [rows, columns, sort]);
  if (rows.length === 0) return <Empty>{empty}</Empty>;
  const toggle = (id: string) => setSort((s) => (s?.column === id ? { column: id, dir: s.dir === 'asc' ? 'desc' : 'asc' } : { column: id, dir: 'asc' }));
  const classOf = (c: Column<R>, r: R) => {
    const extra = typeof c.className === 'function' ? c.className(r) : c.className;
    return [c.numeric ? 'num' : '', extra ?? ''].filter(Boolean).join(' ') || undefined;
  };
  return (
    <div className={`table-wrap${wrapClassName ? ` ${wrapClassName}` : ''}`} tabIndex={0}>
      <table className={className} data-testid={testId}>
        <caption className={captionVisible ? undefined : 'visually-hidden'}>{caption}</caption>
        <thead>
          <tr>
            {columns.map((c) => {
              const text = headerText(c.header);
              const sorted = sort?.column === c.id ? sort.dir : null;
              const cls = [c.numeric ? 'num' : '', c.headerClassName ?? ''].filter(Boolean).join(' ') || undefined;
              return (
                <th key={c.id} scope="col" className={cls} aria-sort={c.sortValue ? (sorted === 'asc' ? 'ascending' : sorted === 'desc' ? 'descending' : 'none') : undefined}>
                  {c.headerHidden ? (
                    <span className="visually-hidden">{text}</span>
                  ) : c.sortValue ? (
                    <button type="button" className="sort" onClick={() => toggle(c.id)} title={t('table.sort')}>
                      {text}
                      <span aria-hidden="true" className="sort-mark">
                        {sorted === 'asc' ? ' ▲' : sorted === 'desc' ? ' ▼' : ' ↕'}
                      </span>
                    </button>
                  ) : (
                    text
                  )}
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>
          {sorted.map((r) => (
            <tr key={keys.get(r)} {...rowProps?.(r)}>
              {columns.map((c) => {
                const tid = typeof c.testId === 'function' ? c.testId(r) : c.testId;
                return c.rowHeader ? (
                  <th key={c.id} scope="row" className={classOf(c, r)} data-testid={tid}>
                    {c.cell(r)}
                  </th>
                ) : (
                  <td key={c.id} className={classOf(c, r)} data-testid={tid}>
                    {c.cell(r)}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
